"""DAG used by tests/airflow/test_dag_run.py: the ML Lab REST pattern with the code location taken from the run's
``conf`` (a Param rendered into ``execute_code``), as whoever may trigger the DAG would set it."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, Param

from airflow_provider_dsjobs.operators import LabJobOperator

with DAG(
    dag_id="dsjobs_test_lab_conf",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    params={"code": Param("store:absent.py", type="string")},
) as dag:
    LabJobOperator(task_id="lab", execute_code="{{ params.code }}", poll_interval=0.5)
