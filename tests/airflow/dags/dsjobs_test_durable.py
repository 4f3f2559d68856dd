"""DAG used by tests/airflow/test_dag_run.py: the first try dies right after its job started (a fault injected
by overriding one method); Airflow retries, and the retry must re-attach to that job through the real
task_state_store instead of starting a second one."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import DAG

from airflow_provider_dsjobs.documents.record import JobRecord
from airflow_provider_dsjobs.operators import DataSphereJobOperator


class DiesAfterSubmitOnFirstTry(DataSphereJobOperator):
    def _remember(self, context: Any, record: JobRecord) -> None:
        super()._remember(context, record)
        # Called once when the record exists (CREATING) and again once the job runs: crash at the second.
        if context["ti"].try_number == 1 and record.status.value == "EXECUTING":
            raise RuntimeError("simulated worker crash right after the job started")


with DAG(
    dag_id="dsjobs_test_durable",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    template_searchpath=[str(Path(__file__).resolve().parent.parent / "jobs")],
) as dag:
    DiesAfterSubmitOnFirstTry(
        task_id="probe",
        config="probe/config.yaml",
        args={"SLEEP": "4"},
        retries=1,
        retry_delay=timedelta(seconds=0),
        poll_interval=0.5,
    )
