"""The launch lease: a job whose launching process died before starting it ends ERROR instead of hanging its
waiters; a launcher that is alive is never judged dead; one that was only slow stops when it finds the ERROR."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dsjobs.config import load_config
from airflow_provider_dsjobs.documents.record import JobRecord, JobStatus, utcnow
from airflow_provider_dsjobs.jobs import lease as lease_module
from airflow_provider_dsjobs.jobs.lease import LaunchLease, abandoned_reason
from airflow_provider_dsjobs.jobs.service import JobService
from airflow_provider_dsjobs.jobs.store import JobStore
from airflow_provider_dsjobs.settings import Settings
from airflow_provider_dsjobs.storage.local import LocalStore
from tests.jobs.service_helpers import write_job

REPO = Path(__file__).resolve().parents[2]


def _jobs(tmp_path: Path) -> JobStore:
    return JobStore(LocalStore(tmp_path / "store"), "p")


def test_a_fresh_lease_or_a_new_record_is_not_abandoned(tmp_path: Path) -> None:
    jobs = _jobs(tmp_path)
    record = JobRecord(id=jobs.new_job_id(), project="p")
    assert abandoned_reason(jobs, record) is None  # no lease yet, but created just now
    LaunchLease(jobs, record.id).beat()
    assert abandoned_reason(jobs, record, now=time.time() + lease_module.STALE_AFTER_S - 1) is None


def test_a_stale_lease_or_an_old_record_without_one_is_abandoned(tmp_path: Path) -> None:
    jobs = _jobs(tmp_path)
    old = JobRecord(id=jobs.new_job_id(), project="p", created_at=utcnow() - timedelta(minutes=5))
    reason = abandoned_reason(jobs, old)
    assert reason is not None and reason.startswith("the process launching the job stopped before the job started")
    lease = LaunchLease(jobs, old.id)
    lease.beat()
    assert abandoned_reason(jobs, old) is None  # the lease, not the creation time, says when it was last seen
    seen = json.loads(jobs.store.get_bytes(jobs.lease_key(old.id)))["heartbeat_at"]
    later = abandoned_reason(jobs, old, now=seen + lease_module.STALE_AFTER_S + 1)
    assert later is not None and "last seen" in later


def test_the_lease_is_refreshed_while_held_and_not_after(tmp_path: Path) -> None:
    jobs = _jobs(tmp_path)
    key = jobs.lease_key("j1")

    def beat_time() -> float:
        return float(json.loads(jobs.store.get_bytes(key))["heartbeat_at"])

    with LaunchLease(jobs, "j1", heartbeat_s=0.05):
        first = beat_time()
        deadline = time.monotonic() + 10
        while beat_time() == first:
            assert time.monotonic() < deadline, "the lease was never refreshed"
            time.sleep(0.02)
    last = beat_time()
    time.sleep(0.3)
    assert beat_time() == last


#: Submits a job in a fresh process and SIGKILLs that process when the service reports ``moment``.
DYING_LAUNCHER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from airflow_provider_dsjobs.config import load_config
    from airflow_provider_dsjobs.jobs.service import JobService
    from airflow_provider_dsjobs.settings import Settings

    store_url, project, image, home, cfg, moment = sys.argv[1:7]
    service = JobService(Settings(store_url=store_url, project=project, default_image=image, home=Path(home)))

    def notify(message):
        if message.startswith(moment):
            print(service.list_jobs()[0].id, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

    service.submit(load_config(Path(cfg)), notify=notify)
    """
)


@pytest.mark.docker
@pytest.mark.parametrize("moment", ["created job", "container dsjobs-"])
def test_a_job_whose_launcher_died_ends_error_for_its_waiter(
    local_settings: Settings, tmp_path: Path, docker_client: Any, monkeypatch: pytest.MonkeyPatch, moment: str
) -> None:
    cfg = write_job(tmp_path / "job", "cmd: echo should-not-run\ninputs:\n  - a.txt\n", {"a.txt": "a"})
    settings = local_settings
    died = subprocess.run(
        [
            sys.executable,
            "-c",
            DYING_LAUNCHER,
            str(settings.store_url),
            settings.project,
            settings.default_image,
            str(settings.home),
            str(cfg),
            moment,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert died.returncode == -9, died.stderr
    job_id = died.stdout.strip()
    service = JobService(settings)
    stuck = service.get(job_id)
    assert stuck.status in (JobStatus.CREATING, JobStatus.PREPARING)
    assert service.refresh(job_id).status == stuck.status  # within the lease: still being launched

    monkeypatch.setattr(lease_module, "STALE_AFTER_S", 1.0)  # instead of waiting a minute
    time.sleep(1.5)
    if moment == "created job":
        assert service.get(job_id).status == JobStatus.ERROR  # `dsjobs get` settles it too
    done = service.wait(job_id, poll_interval=0.1, timeout=60)
    assert done.status == JobStatus.ERROR
    assert done.status_details.startswith("the process launching the job stopped before the job started")
    assert service.get(job_id).status == JobStatus.ERROR
    assert not docker_client.containers.list(all=True, filters={"label": f"dsjobs.job_id={job_id}"})


@pytest.mark.docker
def test_a_slow_launcher_stops_when_its_job_was_judged_abandoned(
    local_settings: Settings, tmp_path: Path, docker_client: Any
) -> None:
    cfg = write_job(tmp_path / "job", "cmd: echo should-not-run; sleep 60\n")
    service = JobService(local_settings)
    judged: list[str] = []

    def notify(message: str) -> None:
        if message.startswith("container dsjobs-") and not judged:
            # Another process lost sight of this launcher and ended the job ERROR meanwhile.
            other = JobService(local_settings)
            record = other.get(other.list_jobs()[0].id)
            record.set_status(JobStatus.ERROR, "the process launching the job stopped before the job started")
            other.jobs.save(record)
            judged.append(record.id)

    record = service.submit(load_config(cfg), notify=notify)
    assert record.status == JobStatus.ERROR
    assert service.get(record.id).status == JobStatus.ERROR
    assert [h.status for h in service.get(record.id).history][-1] == JobStatus.ERROR
    assert not docker_client.containers.list(all=True, filters={"label": f"dsjobs.job_id={record.id}"})
