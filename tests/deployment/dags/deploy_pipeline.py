"""The producer → consumer pipeline of ``dags_examples/pipeline.py`` (same job configs), with the producer pinned
to ``worker-a`` and the consumer to ``worker-b``: the dataset ID can only reach the consumer through XCom and the
S3 store, since the workers share no files."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import DAG

from airflow_provider_dsjobs.operators import DataSphereJobOperator

EXAMPLES = Path(__file__).resolve().parents[3] / "dags_examples"

with DAG(
    dag_id="deploy_pipeline",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    template_searchpath=[str(EXAMPLES)],
    default_args={"retries": 0, "retry_delay": timedelta(seconds=1)},
    tags=["dsjobs", "deployment"],
):
    make_features = DataSphereJobOperator(
        task_id="make_features", config="jobs/features/config.yaml", args={"ROWS": "50"}, queue="worker-a"
    )
    train = DataSphereJobOperator(task_id="train", config="jobs/train/config.yaml", queue="worker-b")
    make_features >> train
