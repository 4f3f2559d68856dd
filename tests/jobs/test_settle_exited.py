"""``gc`` (and the maintenance DAG) finishes the jobs nobody follows: a page read never finalizes a job, so an
``execute --async`` job nobody attached to ends only here. A running job is left alone, and a dry run changes
nothing (real Docker engine, local store)."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_dsjobs.config import load_config
from airflow_provider_dsjobs.documents.record import JobStatus
from airflow_provider_dsjobs.jobs.service import JobService
from airflow_provider_dsjobs.settings import Settings
from tests.jobs.service_helpers import wait_for, write_job

pytestmark = [pytest.mark.docker]


def test_gc_finishes_exited_jobs_nobody_follows_and_leaves_running_ones(
    local_settings: Settings, tmp_path: Path
) -> None:
    service = JobService(local_settings)
    quick = service.submit(
        load_config(write_job(tmp_path / "quick", "cmd: echo done > ${OUT}\noutputs:\n  - o.txt: OUT\n"))
    )
    slow = service.submit(load_config(write_job(tmp_path / "slow", "cmd: sleep 60\n")))

    def exited() -> bool:
        state = service.runtime.state(quick.container_id or "")
        return state is not None and state.finished

    wait_for(exited, what="the quick job's container to exit")
    assert service.read(quick.id).status == JobStatus.EXECUTING  # nobody followed it: nothing ended it yet

    assert service.gc(dry_run=True).jobs_settled == []
    assert service.read(quick.id).status == JobStatus.EXECUTING  # a dry run changes nothing

    report = service.gc()
    assert report.jobs_settled == [quick.id]
    done = service.read(quick.id)
    assert done.status == JobStatus.SUCCESS and "OUT" in done.outputs  # finalized whole, outputs stored
    assert service.read(slow.id).status == JobStatus.EXECUTING  # still running: left alone
    service.cancel(slow.id, graceful=False)
