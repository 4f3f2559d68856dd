"""Production semantics the in-process tests cannot show, under the real api-server, scheduler, triggerer and
Celery workers: a deferred task's job output reaches its task log while it is deferred (written by the
triggerer, secrets masked there too), and a missing named connection fails the task at once without retries.
(Timeouts that cancel and masked worker logs are in test_timeouts.py and test_task_logs.py.)"""

from __future__ import annotations

import pytest

from tests.deployment.harness import Deployment

pytestmark = pytest.mark.deployment

DAG_ID = "deploy_semantics"


@pytest.fixture(scope="module")
def semantics_run(deployment: Deployment) -> str:
    """One finished run of deploy_semantics (it fails: typo_connection must)."""
    run_id = deployment.trigger(DAG_ID)
    assert deployment.wait_for_run(DAG_ID, run_id, timeout=600) == "failed"
    return run_id


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
