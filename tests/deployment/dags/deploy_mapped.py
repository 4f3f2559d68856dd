"""Many deferrable jobs at once: one mapped task, ``params.jobs`` map indexes (50 by default), each job runs
``params.seconds``; all of them wait in the one triggerer."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import DAG, Param, task

from airflow_provider_dsjobs.operators import DataSphereJobOperator

#: The probe job: args SECONDS and PRINT_ENV, one output (result.txt).
PROBE = str(Path(__file__).resolve().parent / "jobs" / "probe" / "config.yaml")
START = datetime(2025, 1, 1)
NO_RETRIES = {"retries": 0, "retry_delay": timedelta(seconds=1)}

with DAG(
    dag_id="deploy_mapped",
    schedule=None,
    start_date=START,
    catchup=False,
    default_args=NO_RETRIES,
    max_active_tasks=64,
    params={"jobs": Param(50, type="integer", minimum=1), "seconds": Param(20, type="integer", minimum=1)},
    tags=["dsjobs", "deployment"],
):

    @task
    def job_args(params: dict | None = None) -> list[dict[str, str]]:
        assert params is not None
        return [{"SECONDS": str(params["seconds"])} for _ in range(int(params["jobs"]))]

    DataSphereJobOperator.partial(
        task_id="job", config=PROBE, deferrable=True, poll_interval=5, log_tail_lines=5
    ).expand(args=job_args())
