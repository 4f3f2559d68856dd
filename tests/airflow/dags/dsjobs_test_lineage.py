"""DAGs used by tests/airflow/lineage/test_dag_lineage.py: jobs whose data OpenLineage events report.

``dsjobs_test_lineage``: ``publish`` reads a local input with an odd file name and publishes an output dataset with
an odd name; ``consume`` reads that dataset by ID (from XCom) and an s3-mount (moto); ``launch`` hands a job off to
``watch`` (the sensor); ``lab`` runs an ML Lab job. ``dsjobs_test_lineage_fail``: a job that exits 3.
The odd input file lives in ``DSJOBS_LINEAGE_TEST_DIR``, which the test creates.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

from airflow.sdk import DAG

from airflow_provider_dsjobs.operators import DataSphereJobOperator, LabJobOperator
from airflow_provider_dsjobs.sensors import DataSphereJobSensor

#: A file name and a dataset name a user may well write: spaces, quotes, '#', '?', '&', '%', non-ASCII.
ODD_FILE = 'we ird "note" #1 ü?&%.txt'
ODD_DATASET = 'rows "q" #1 ü?&%'
INPUT_DIR = Path(os.environ.get("DSJOBS_LINEAGE_TEST_DIR", "/nonexistent"))

PUBLISH = {
    "name": "lineage-publish",
    "cmd": "mkdir -p ${ROWS} && cp ${NOTE} ${ROWS}/rows.txt && echo published > ${RESULT}",
    "inputs": [{str(INPUT_DIR / ODD_FILE): "NOTE"}],
    "outputs": [{"result.txt": "RESULT"}],
    "output-datasets": [{"name": ODD_DATASET, "var": "ROWS", "size": "1MB"}],
}
# The dataset ID is known at run time only: the config is YAML text (JSON is YAML) rendered with the XCom.
DATASET_ID = "{{ ti.xcom_pull(task_ids='publish', key='output_datasets') | dictsort | first | last }}"
CONSUME = {
    "name": "lineage-consume",
    "cmd": "cat ${DS}/rows.txt ${LAKE}/part-0.csv > ${LISTING}",
    "datasets": [{DATASET_ID: "DS"}],
    "s3-mounts": [{"lake": "LAKE"}],
    "outputs": [{"listing.txt": "LISTING"}],
}

with DAG(dag_id="dsjobs_test_lineage", schedule=None, start_date=datetime(2025, 1, 1)) as dag:
    publish = DataSphereJobOperator(task_id="publish", config=PUBLISH, poll_interval=0.5)
    consume = DataSphereJobOperator(task_id="consume", config=json.dumps(CONSUME), poll_interval=0.5)
    launch = DataSphereJobOperator(
        task_id="launch",
        config={"name": "lineage-handed-off", "cmd": "echo later > ${OUT}", "outputs": [{"later.txt": "OUT"}]},
        wait_for_completion=False,
    )
    watch = DataSphereJobSensor(
        task_id="watch", job_id="{{ ti.xcom_pull(task_ids='launch', key='job_id') }}", poke_interval=0.5
    )
    lab = LabJobOperator(task_id="lab", execute_code="data/lab_job.py", poll_interval=0.5)
    publish >> consume
    launch >> watch

with DAG(dag_id="dsjobs_test_lineage_fail", schedule=None, start_date=datetime(2025, 1, 1)) as fail_dag:
    DataSphereJobOperator(
        task_id="broken", config={"name": "lineage-broken", "cmd": "echo failing; exit 3"}, poll_interval=0.5
    )
