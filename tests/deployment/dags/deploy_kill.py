"""A sync job task that outlives its worker: the scenario SIGKILLs the worker running it; the retry (on the other
worker) must re-attach to the same container and finish the job once."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import DAG

from airflow_provider_dsjobs.operators import DataSphereJobOperator

#: The probe job: args SECONDS and PRINT_ENV, one output (result.txt).
PROBE = str(Path(__file__).resolve().parent / "jobs" / "probe" / "config.yaml")
START = datetime(2025, 1, 1)

with DAG(dag_id="deploy_kill", schedule=None, start_date=START, catchup=False, tags=["dsjobs", "deployment"]):
    DataSphereJobOperator(
        task_id="slow",
        config=PROBE,
        args={"SECONDS": "{{ dag_run.conf.get('seconds', 60) }}"},
        deferrable=False,
        poll_interval=1,
        retries=1,
        retry_delay=timedelta(seconds=2),
    )
