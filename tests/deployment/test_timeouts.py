"""execution_timeout shorter than the job: the task fails, the job is CANCELLED, no container is left."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from airflow_provider_dsjobs.documents.record import JobStatus
from tests.deployment.harness import Deployment, wait_until

pytestmark = pytest.mark.deployment

DAG_ID = "deploy_timeout"


@pytest.fixture(scope="module")
def timed_out_run(deployment: Deployment) -> Iterator[str]:
    """One run of deploy_timeout (a deferrable and a sync task, 20 s timeout, 600 s job)."""
    run_id = deployment.trigger(DAG_ID)
    # Well before the jobs' own 600 s: only the timeouts can end this run in time.
    assert deployment.wait_for_run(DAG_ID, run_id, timeout=400) == "failed"
    yield run_id
    # A job the timeout failed to cancel must not go on holding the shared engine.
    for record in deployment.run_jobs(DAG_ID, run_id):
        if not record.status.terminal:
            deployment.jobs.cancel(record.id, graceful=False)


@pytest.mark.parametrize("task_id", ["deferred", "sync"])
def test_timeout_fails_task_and_cancels_job(deployment: Deployment, timed_out_run: str, task_id: str) -> None:
    ti = deployment.task_instance(DAG_ID, timed_out_run, task_id)
    assert ti["state"] == "failed"
    job_id = deployment.xcom(DAG_ID, timed_out_run, task_id, key="job_id")

    record = wait_until(
        lambda: (r := deployment.jobs.get(job_id)).status.terminal and r,
        timeout=60,
        what=f"job {job_id} to end",
    )
    assert record.status == JobStatus.CANCELLED, record.status_details
    labels = {"airflow.dag_id": DAG_ID, "airflow.run_id": timed_out_run, "airflow.task_id": task_id}
    assert wait_until(lambda: deployment.containers(**labels) == [], timeout=60, what="the container to go")
    assert "tick 600" not in "".join(line for _, line in deployment.jobs.logs(job_id))
    # Both paths fail with AirflowTaskTimeout after the job was cancelled (the deferred one from the trigger's
    # deadline, counted from the task's start).
    log = deployment.task_log(DAG_ID, timed_out_run, task_id)
    assert "AirflowTaskTimeout" in log
    if task_id == "deferred":
        assert f"Job {job_id} cancelled: the task's execution_timeout (0:00:20) passed while it was deferred" in log
