"""Tasks that print their job's environment into the task log: literal config values, operator env_vars,
ordinary and secret-looking names, in a sync and in a deferrable task."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import DAG

from airflow_provider_dsjobs.operators import DataSphereJobOperator

PRINTED = "GREETING,HF_TOKEN,RUN_MODE,DB_PASSWORD"

#: The probe job: args SECONDS and PRINT_ENV, one output (result.txt).
PROBE = str(Path(__file__).resolve().parent / "jobs" / "probe" / "config.yaml")
START = datetime(2025, 1, 1)
NO_RETRIES = {"retries": 0, "retry_delay": timedelta(seconds=1)}

with DAG(
    dag_id="deploy_logs",
    schedule=None,
    start_date=START,
    catchup=False,
    default_args=NO_RETRIES,
    tags=["dsjobs", "deployment"],
):
    for task_id, deferrable in (("sync_env", False), ("deferred_env", True)):
        DataSphereJobOperator(
            task_id=task_id,
            config=PROBE,
            args={"SECONDS": "1", "PRINT_ENV": PRINTED},
            env_vars={"RUN_MODE": "operator-mode-value", "DB_PASSWORD": "pw-operator-secret"},
            deferrable=deferrable,
            poll_interval=1,
        )
