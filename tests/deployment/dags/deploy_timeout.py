"""Tasks whose execution_timeout is shorter than their job: a deferrable one (the trigger's deadline) and a sync
one. Both must fail, cancel their job and leave no container."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import DAG

from airflow_provider_dsjobs.operators import DataSphereJobOperator

#: The probe job: args SECONDS and PRINT_ENV, one output (result.txt).
PROBE = str(Path(__file__).resolve().parent / "jobs" / "probe" / "config.yaml")
START = datetime(2025, 1, 1)
NO_RETRIES = {"retries": 0, "retry_delay": timedelta(seconds=1)}

with DAG(
    dag_id="deploy_timeout",
    schedule=None,
    start_date=START,
    catchup=False,
    default_args=NO_RETRIES,
    tags=["dsjobs", "deployment"],
):
    for task_id, deferrable in (("deferred", True), ("sync", False)):
        DataSphereJobOperator(
            task_id=task_id,
            config=PROBE,
            args={"SECONDS": "600"},
            deferrable=deferrable,
            poll_interval=1,
            execution_timeout=timedelta(seconds=20),
        )
