"""DAG used by tests/airflow/test_dag_run.py: the trigger form's Param feeds a job argument, as in
dags_examples/ui_triggered.py, with the same job (dags_examples/jobs/hello)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from airflow.sdk import DAG, Param

from airflow_provider_dsjobs.operators import DataSphereJobOperator

with DAG(
    dag_id="dsjobs_test_params",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    params={"name": Param("Airflow", type="string", minLength=1)},
    template_searchpath=[str(Path(__file__).resolve().parents[3] / "dags_examples")],
) as dag:
    DataSphereJobOperator(
        task_id="greet", config="jobs/hello/config.yaml", args={"NAME": "{{ params.name }}"}, poll_interval=0.5
    )
