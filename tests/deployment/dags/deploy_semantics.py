"""Production semantics under the real services: a deferred task whose job output streams into its task log
(secret env values masked by the triggerer), and a task naming a connection that does not exist (fails at once,
no retries)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import DAG

from airflow_provider_dsjobs.operators import DataSphereJobOperator

#: The probe job: args SECONDS and PRINT_ENV, one output (result.txt).
PROBE = str(Path(__file__).resolve().parent / "jobs" / "probe" / "config.yaml")
START = datetime(2025, 1, 1)

with DAG(
    dag_id="deploy_semantics",
    schedule=None,
    start_date=START,
    catchup=False,
    default_args={"retries": 0, "retry_delay": timedelta(seconds=1)},
    tags=["dsjobs", "deployment"],
):
    DataSphereJobOperator(
        task_id="streamed",
        config=PROBE,
        args={"SECONDS": "25", "PRINT_ENV": "GREETING,HF_TOKEN,RUN_MODE,API_KEY"},
        env_vars={"RUN_MODE": "streamed-mode-value", "API_KEY": "key-streamed-secret-42"},
        deferrable=True,
        poll_interval=1,
    )
    DataSphereJobOperator(
        task_id="killed",  # the scenario marks it failed while its job runs: the runner SIGTERMs it (on_kill)
        config=PROBE,
        args={"SECONDS": "600"},
        deferrable=False,
        poll_interval=1,
    )
    DataSphereJobOperator(
        task_id="typo_connection",
        config=PROBE,
        dsjobs_conn_id="dsjobs_prod_typo",
        retries=3,  # a missing connection must not be retried
        retry_delay=timedelta(seconds=1),
    )
