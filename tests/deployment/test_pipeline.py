"""The producer → consumer example across two workers that share nothing but the store and the engine."""

from __future__ import annotations

import pytest

from tests.deployment.harness import Deployment

pytestmark = pytest.mark.deployment


def test_pipeline_runs_across_workers_with_dataset_ids_through_xcom(deployment: Deployment) -> None:
    run_id = deployment.trigger("deploy_pipeline")
    assert deployment.wait_for_run("deploy_pipeline", run_id, timeout=600) == "success"

    hosts = {ti["task_id"]: ti["hostname"] for ti in deployment.task_instances("deploy_pipeline", run_id)}
    assert hosts == {"make_features": "worker-a", "train": "worker-b"}

    produced = deployment.xcom("deploy_pipeline", run_id, "make_features", key="output_datasets")
    dataset_id = produced["features"]
    producer = deployment.xcom("deploy_pipeline", run_id, "make_features")
    assert producer["status"] == "SUCCESS"
    assert producer["output_datasets"] == {"features": dataset_id}

    # The consumer's job, read back from the S3 store, mounted exactly the dataset the producer published.
    consumer = deployment.xcom("deploy_pipeline", run_id, "train")
    assert consumer["status"] == "SUCCESS"
    record = deployment.jobs.get(consumer["job_id"])
    assert dataset_id in str(record.config.get("datasets"))
    assert record.labels["airflow.task_id"] == "train"
    outputs = consumer["outputs"].values()
    assert outputs and all(uri.startswith(deployment.store_url) for uri in outputs)
    # No container is left on the engine for the run.
    assert deployment.containers(**{"airflow.run_id": run_id}) == []
