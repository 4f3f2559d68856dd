"""Production semantics the in-process tests cannot show, under the real api-server, scheduler, triggerer and
Celery workers: a deferred task's job output reaches its task log while it is deferred (written by the
triggerer, secrets masked there too), and a missing named connection fails the task at once without retries.
(Timeouts that cancel and masked worker logs are in test_timeouts.py and test_task_logs.py.)"""

from __future__ import annotations

import pytest

from tests.deployment.harness import Deployment, DeploymentError, wait_until

pytestmark = pytest.mark.deployment

DAG_ID = "deploy_semantics"


@pytest.fixture(scope="module")
def semantics_run(deployment: Deployment) -> str:
    """One finished run of deploy_semantics (it fails: typo_connection must)."""
    run_id = deployment.trigger(DAG_ID)
    job_id = wait_until(
        lambda: (
            deployment.task_instance(DAG_ID, run_id, "killed")["state"] == "running"
            and _xcom_or_none(deployment, run_id, "killed", "job_id")
        ),
        timeout=300,
        what="the killed task's job to exist",
    )
    wait_until(
        lambda: any(line == "tick 2" for _, line in deployment.jobs.logs(job_id)), timeout=120, what="the job to run"
    )
    deployment.mark_task(DAG_ID, run_id, "killed", "failed")  # a user's "mark failed": SIGTERM, on_kill
    assert deployment.wait_for_run(DAG_ID, run_id, timeout=600) == "failed"
    return run_id


def _xcom_or_none(deployment: Deployment, run_id: str, task_id: str, key: str) -> str | None:
    try:
        return str(deployment.xcom(DAG_ID, run_id, task_id, key=key))
    except DeploymentError:
        return None


def test_deferred_output_streams_into_the_task_log_masked(deployment: Deployment, semantics_run: str) -> None:
    run_id = semantics_run
    assert deployment.task_instance(DAG_ID, run_id, "streamed")["state"] == "success"

    # Written by the triggerer, i.e. while the task was deferred, into the task's own log.
    log = deployment.trigger_log(DAG_ID, run_id, "streamed")
    assert "probe started" in log and "tick 3" in log and "probe done" in log
    assert "env GREETING=hello-literal-value" in log and "env RUN_MODE=streamed-mode-value" in log
    assert "env HF_TOKEN=***" in log and "env API_KEY=***" in log
    assert "hf_literal_secret_value" not in log and "key-streamed-secret-42" not in log
    worker_log = deployment.task_log(DAG_ID, run_id, "streamed")
    assert "Last 100 lines of job" not in worker_log  # streamed already: no tail replayed on resume
    assert log.count("tick 3") == 1  # each line once


def test_missing_named_connection_fails_at_once_without_retries(deployment: Deployment, semantics_run: str) -> None:
    run_id = semantics_run
    tries = deployment.tries(DAG_ID, run_id, "typo_connection")
    # retries=3, yet the try that met the missing connection is the last one (a loaded machine may lose an
    # earlier try to the infrastructure; that is not what this checks).
    last = tries[-1]["try_number"]
    assert last < 4 and tries[-1]["state"] == "failed"
    log = deployment.task_log(DAG_ID, run_id, "typo_connection", try_number=last)
    assert "The dsjobs connection 'dsjobs_prod_typo' does not exist" in log
    assert not [r for r in deployment.run_jobs(DAG_ID, run_id) if r.labels.get("airflow.task_id") == "typo_connection"]


def test_kill_signals_the_job_and_the_next_reader_finishes_it(deployment: Deployment, semantics_run: str) -> None:
    job_id = str(deployment.xcom(DAG_ID, semantics_run, "killed", key="job_id"))
    log = deployment.task_log(DAG_ID, semantics_run, "killed")
    assert f"Task killed; cancelling job {job_id} (graceful shutdown signal sent)" in log
    # on_kill only asked; reading the job (here: dsjobs get) finishes it: stage-out, CANCELLED, no container.
    record = wait_until(
        lambda: (r := deployment.jobs.get(job_id)).status.terminal and r, timeout=120, what=f"job {job_id} to end"
    )
    assert record.status.value == "CANCELLED", record.status_details
    labels = {"airflow.dag_id": DAG_ID, "airflow.run_id": semantics_run, "airflow.task_id": "killed"}
    assert wait_until(lambda: deployment.containers(**labels) == [], timeout=60, what="the container to go")
