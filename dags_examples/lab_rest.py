"""An ML Lab job (seed 004) triggered through Airflow's REST API, the counterpart of ML Lab's
``POST /lab/projects/{project}/jobs``::

    curl -X POST http://localhost:8080/api/v2/dags/dsjobs_lab_rest/dagRuns \\
         -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \\
         -d '{"logical_date": null, "conf": {"EXAMPLE_PARAMETER": "from REST"}}'

The run's ``conf`` overrides the DAG's Params, and the Params become the job's params (environment variables).
A ``conf`` may set ``EXECUTE_CODE`` to a git URL over https/ssh or ``store:KEY``, never to a file or repository on
the worker (unless under ``DSJOBS_LAB_CODE_ROOTS``): the ``execute_code`` written below is the DAG author's.
With a ``schedule`` (a cron string) instead of ``None`` this is ML Lab's scheduled job.

The job is code from ``jobs/lab_hello/`` (``EXECUTE_CODE``) run in the connection's default image (no ``image``
given); for an image that does its own work, give ``image="registry/your-job:1"`` and drop ``execute_code``.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, Param

from airflow_provider_dsjobs.operators import LabJobOperator

with DAG(
    dag_id="dsjobs_lab_rest",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    params={"EXAMPLE_PARAMETER": Param("example", type="string", description="passed to the job as an env var")},
    tags=["dsjobs", "ml-lab", "example"],
):
    LabJobOperator(
        task_id="my_job",
        name="my-job",
        params={"EXAMPLE_PARAMETER": "{{ params.EXAMPLE_PARAMETER }}"},
        execute_code="jobs/lab_hello",
    )
