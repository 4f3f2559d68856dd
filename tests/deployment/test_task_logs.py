"""Task logs as the real task runner writes them: ordinary env values readable, secrets masked."""

from __future__ import annotations

import json

import pytest

from tests.deployment.harness import Deployment

pytestmark = pytest.mark.deployment

DAG_ID = "deploy_logs"
SECRETS = ("hf_literal_secret_value", "pw-operator-secret")


@pytest.fixture(scope="module")
def logs_run(deployment: Deployment) -> str:
    run_id = deployment.trigger(DAG_ID)
    assert deployment.wait_for_run(DAG_ID, run_id, timeout=600) == "success"
    return run_id


@pytest.mark.parametrize("task_id", ["sync_env", "deferred_env"])
def test_task_log_shows_literal_values_and_masks_secrets(deployment: Deployment, logs_run: str, task_id: str) -> None:
    # A deferred task's job output is streamed by the triggerer into its own part of the task log (included).
    log = deployment.task_log(DAG_ID, logs_run, task_id)
    assert "probe started" in log, log[-2000:]
    # Ordinary values, from the config and from the operator's env_vars, are readable.
    assert "env GREETING=hello-literal-value" in log
    assert "env RUN_MODE=operator-mode-value" in log
    # Secret-looking names reached the container (they are not <unset>) and are masked in the log.
    assert "env HF_TOKEN=***" in log
    assert "env DB_PASSWORD=***" in log
    for secret in (*SECRETS, deployment.s3_credentials[1]):
        assert secret not in log

    result = deployment.xcom(DAG_ID, logs_run, task_id)
    record = deployment.jobs.get(result["job_id"])
    for secret in SECRETS:
        assert secret not in json.dumps(result)
        assert secret not in json.dumps(record.config)
