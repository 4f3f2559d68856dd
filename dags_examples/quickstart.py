"""Quickstart: run one DataSphere Jobs config with no connection and no configuration at all.

The job (``jobs/quickstart/``) counts the words of a text file. Its data goes to the embedded local store
(~/.dsjobs, or $DSJOBS_HOME) and the container runs on the local Docker engine. The task's return value holds the
job id, status, exit code and output URIs; the "DataSphere Job" link on the task points at the job's log.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_dsjobs.operators import DataSphereJobOperator

with DAG(
    dag_id="dsjobs_quickstart",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["dsjobs", "example"],
):
    DataSphereJobOperator(task_id="word_count", config="jobs/quickstart/config.yaml")
