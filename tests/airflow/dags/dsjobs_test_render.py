"""DAG used by tests/airflow/test_dag_run.py: an upstream XCom rendered into a job's .yaml config."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from airflow.sdk import DAG, task

from airflow_provider_dsjobs.operators import DataSphereJobOperator

with DAG(
    dag_id="dsjobs_test_render",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    template_searchpath=[str(Path(__file__).resolve().parent.parent / "jobs")],
) as dag:

    @task
    def pick() -> str:
        return "green"

    probe = DataSphereJobOperator(
        task_id="probe",
        config="probe/templated.yaml",
        env_vars={"PROBE_NOTE": "tok-dagtest-8675309"},
        secret_env_vars=["PROBE_NOTE"],  # an ordinary name: masked because marked secret
        poll_interval=0.5,
    )
    dataset = DataSphereJobOperator(task_id="dataset", config="probe/dataset.yaml", poll_interval=0.5)
    pick() >> probe >> dataset
