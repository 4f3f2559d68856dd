"""Two ``dsjobs`` processes racing on one job, on a real Docker engine and both stores: ``get`` (which finalizes
a job whose container exited) against ``cancel``, and two ``get``s at once. Exactly one ending is recorded, and
it is whole: SUCCESS with the job's outputs and logs, or CANCELLED with its reason, never a mix."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_dsjobs.config import load_config
from airflow_provider_dsjobs.documents.record import JobStatus
from airflow_provider_dsjobs.jobs.service import JobService
from airflow_provider_dsjobs.settings import Settings
from tests.jobs.service_helpers import wait_for, write_job

pytestmark = [pytest.mark.docker]

JOB = "cmd: echo done > out.txt\noutputs:\n  - out.txt\n"


def _cli(settings: Settings, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "DSJOBS_HOME": str(settings.home)}
    if settings.s3_endpoint_url:
        env["DSJOBS_S3_ENDPOINT_URL"] = settings.s3_endpoint_url
    command = [sys.executable, "-m", "airflow_provider_dsjobs.cli", *args]
    command += ["--store", str(settings.store_url), "--project", settings.project]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _exited_job(settings: Settings, tmp_path: Path) -> str:
    service = JobService(settings)
    record = service.submit(load_config(write_job(tmp_path / "job", JOB)))
    wait_for(lambda: service.runtime.state(record.container_id or "").finished, what="the container to exit")
    service.close()
    return record.id


@pytest.mark.parametrize("rival", ["cancel", "get"])
def test_two_processes_end_a_job_once(settings: Settings, tmp_path: Path, rival: str) -> None:
    job_id = _exited_job(settings, tmp_path)
    procs = [_cli(settings, "get", "--id", job_id), _cli(settings, rival, "--id", job_id)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    final = JobService(settings).read(job_id)
    endings = [h for h in final.history if h.status.terminal]
    assert len(endings) == 1, final.history  # exactly one process ended it
    if final.status == JobStatus.SUCCESS:
        assert list(final.outputs) == ["out.txt"] and final.logs and final.return_code == 0
        assert final.status_details is None
    else:
        assert rival == "cancel" and final.status == JobStatus.CANCELLED
        assert final.status_details in ("cancelled by user", "cancelled before the job started")
    if rival == "cancel":
        assert f"job {job_id} is {final.status.value}" in outs[1][1]  # the canceller reports the one outcome
