"""ML Lab's REST trigger (``POST /lab/projects/{project}/jobs``) is Airflow's ``POST /api/v2/dags/{dag_id}/dagRuns``:
the example DAG ``dsjobs_lab_rest`` triggered on the real api-server with ``conf``, run by the scheduler on a Celery
worker, and its ML Lab job sees the conf value as its param."""

from __future__ import annotations

import uuid

import pytest

from tests.deployment.harness import Deployment

pytestmark = pytest.mark.deployment

DAG_ID = "dsjobs_lab_rest"


def test_rest_trigger_runs_the_lab_job_with_conf_as_params(deployment: Deployment) -> None:
    value = f"from-rest-{uuid.uuid4().hex[:8]}"
    run_id = deployment.trigger(DAG_ID, conf={"EXAMPLE_PARAMETER": value})
    assert deployment.wait_for_run(DAG_ID, run_id, timeout=600) == "success", deployment.task_log(
        DAG_ID, run_id, "my_job"
    )[-3000:]
    result = deployment.xcom(DAG_ID, run_id, "my_job")
    assert result["status"] == "SUCCESS" and result["return_code"] == 0
    record = deployment.jobs.get(result["job_id"])
    assert record.kind == "lab" and record.name == "my-job"
    assert record.config["params"] == {"EXAMPLE_PARAMETER": value}
    lines = [line for stream, line in deployment.jobs.logs(result["job_id"]) if stream == "stdout"]
    assert f"EXAMPLE_PARAMETER={value}" in lines
    assert f"EXAMPLE_PARAMETER={value}" in deployment.task_log(DAG_ID, run_id, "my_job")
