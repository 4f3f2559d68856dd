"""Deferrable: the job is watched from the triggerer, so no worker slot is held while it runs.

On resume the task finishes stage-out and shows the last lines of the job's output. Killing the deferred task
from the UI cancels the job (gracefully: the config's ``graceful-shutdown`` signal, then SIGKILL after its
timeout) unless ``on_kill_action="keep"``.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_dsjobs.operators import DataSphereJobOperator

with DAG(
    dag_id="dsjobs_deferrable",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["dsjobs", "example"],
):
    DataSphereJobOperator(
        task_id="report",
        config="jobs/report/config.yaml",
        args={"STEPS": "4"},
        deferrable=True,
        poll_interval=1,
        log_tail_lines=20,
    )
