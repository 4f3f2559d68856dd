"""Launch now, wait elsewhere: start the job without waiting, then watch it with a sensor in reschedule mode.

The launching task ends as soon as the container runs (its XCom ``job_id`` names the job); the sensor frees its
worker slot between pokes and, once the job has stopped, finishes stage-out and returns the same result dict as
the operator.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_dsjobs.operators import DataSphereJobOperator
from airflow_provider_dsjobs.sensors import DataSphereJobSensor

with DAG(
    dag_id="dsjobs_sensor",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["dsjobs", "example"],
):
    launch = DataSphereJobOperator(
        task_id="launch",
        config="jobs/report/config.yaml",
        args={"STEPS": "3"},
        wait_for_completion=False,
    )
    wait = DataSphereJobSensor(
        task_id="wait",
        job_id="{{ ti.xcom_pull(task_ids='launch', key='job_id') }}",
        mode="reschedule",
        poke_interval=2,
        timeout=600,
    )
    launch >> wait
