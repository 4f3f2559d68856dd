"""A job on a schedule: every day at 03:00 UTC, with the run's logical date passed as an argument."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG

from airflow_provider_dsjobs.operators import DataSphereJobOperator

with DAG(
    dag_id="dsjobs_scheduled",
    schedule="0 3 * * *",
    start_date=datetime(2025, 1, 1),
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    tags=["dsjobs", "example"],
):
    DataSphereJobOperator(
        task_id="nightly_report",
        config="jobs/report/config.yaml",
        args={"STEPS": "3", "TITLE": "report for {{ ds }}"},
        job_name="nightly-report-{{ ds_nodash }}",
        execution_timeout=timedelta(hours=1),
    )
