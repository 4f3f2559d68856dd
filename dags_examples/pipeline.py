"""Producer → consumer: the second job reads the dataset the first one published.

``make_features`` publishes the output dataset ``features``; its ID reaches downstream through the XCom
``output_datasets``. ``train``'s config (``jobs/train/config.yaml``) is a Jinja template that pulls that ID into
its ``datasets`` section. Each published dataset is also an asset event on the ``dsjobs-output-datasets`` alias
(URI ``dsjobs://<project>/datasets/features``), which other DAGs can schedule on.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_dsjobs.operators import DataSphereJobOperator

with DAG(
    dag_id="dsjobs_pipeline",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["dsjobs", "example"],
):
    make_features = DataSphereJobOperator(
        task_id="make_features",
        config="jobs/features/config.yaml",
        args={"ROWS": "200"},
    )
    train = DataSphereJobOperator(task_id="train", config="jobs/train/config.yaml")
    make_features >> train
