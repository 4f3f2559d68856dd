"""Triggered from the UI: the trigger form's Params feed the job's overrides (an argument and the instance type).

Overrides work like ``datasphere project job fork``: only what the config declares can be changed (an unknown
argument name fails the task at once with the config error, without retries). A Param fed into ``args`` is data,
never shell code: ``${NAME}`` in the job's ``cmd`` expands it like a shell variable (README: Arguments are data).
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, Param

from airflow_provider_dsjobs.operators import DataSphereJobOperator

with DAG(
    dag_id="dsjobs_ui_triggered",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    params={
        "name": Param("Airflow", type="string", minLength=1, description="Who to greet"),
        "instance_type": Param(
            "c1.4", type="string", enum=["c1.4", "c1.8", "c1.32"], description="cloud-instance-types, first choice"
        ),
    },
    tags=["dsjobs", "example"],
):
    DataSphereJobOperator(
        task_id="greet",
        config="jobs/hello/config.yaml",
        args={"NAME": "{{ params.name }}"},
        cloud_instance_types=["{{ params.instance_type }}"],
    )
