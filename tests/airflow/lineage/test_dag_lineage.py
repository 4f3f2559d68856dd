"""OpenLineage events of real DAG runs: ``airflow dags test`` with the OpenLineage provider's file transport, real
Docker jobs, a local input with an odd name, an output dataset with an odd name read back by ID, an s3-mount and an
S3 store on moto, an ML Lab job, a sensor, and a failing job. Every event is validated (``spec.py``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.parse
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.airflow.dags.dsjobs_test_lineage import ODD_DATASET, ODD_FILE
from tests.airflow.lineage.spec import validate_event

pytestmark = [pytest.mark.docker, pytest.mark.airflow, pytest.mark.s3]

CONSOLE = "https://console.example/{project}/jobs/{job_id}"


@pytest.fixture(scope="module")
def airflow_db() -> None:
    """The metadata DB of the private AIRFLOW_HOME (tests/airflow/conftest.py), migrated once."""
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], capture_output=True, text=True, env=os.environ.copy()
    )
    assert result.returncode == 0, result.stderr[-2000:]


def dags_test(dag_id: str, events: Path) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    """Run ``airflow dags test DAG_ID`` with the file transport writing to ``events``; the events it wrote."""
    transport = {"type": "file", "log_file_path": str(events), "append": True}
    env = {**os.environ, "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(transport)}
    done = subprocess.run(
        [sys.executable, "-m", "airflow", "dags", "test", dag_id],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    lines = events.read_text(encoding="utf-8").splitlines() if events.exists() else []
    return done, [json.loads(line) for line in lines if line.strip()]


def of_task(events: list[dict[str, Any]], dag_id: str, task_id: str, event_type: str) -> dict[str, Any]:
    found = [e for e in events if e["job"]["name"] == f"{dag_id}.{task_id}"]
    matching = [e for e in found if e["eventType"] == event_type]
    assert len(matching) == 1, f"{task_id}: {[e['eventType'] for e in found]}"
    return matching[0]


def by_role(datasets: list[dict[str, Any]], role: str) -> list[dict[str, Any]]:
    return [d for d in datasets if d["facets"]["dsjobsData"]["role"] == role]


def service_of_env() -> Any:
    from airflow_provider_dsjobs.hooks import DataSphereJobsHook

    return DataSphereJobsHook(dsjobs_conn_id="dsjobs_default").get_conn()


@pytest.fixture()
def lineage_env(dsjobs_home: Path, s3_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """An S3 store and an s3-mount on moto, the console link template, the odd input file; the job service."""
    bucket = s3_env["bucket"]
    s3 = boto3.client("s3", endpoint_url=s3_env["endpoint"], region_name="us-east-1")
    s3.put_object(Bucket=bucket, Key="lake/2024/part-0.csv", Body=b"a,b\n1,2\n")
    monkeypatch.setenv("DSJOBS_STORE", f"s3://{bucket}/store")
    monkeypatch.setenv("DSJOBS_S3_MOUNT_LAKE", f"s3://{bucket}/lake/2024")
    monkeypatch.setenv("DSJOBS_CONSOLE_URL", CONSOLE)
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / ODD_FILE).write_text("hello lineage\n", encoding="utf-8")
    monkeypatch.setenv("DSJOBS_LINEAGE_TEST_DIR", str(inputs))
    service = service_of_env()
    yield service
    for record in service.list_jobs():
        if not record.status.terminal:
            service.cancel(record.id, graceful=False)
    service.close()


def test_dag_run_reports_each_jobs_data_and_facets_in_valid_events(
    airflow_db: None, lineage_env: Any, s3_env: dict[str, str], tmp_path: Path, test_image: str
) -> None:
    dag_id, bucket = "dsjobs_test_lineage", s3_env["bucket"]
    done, events = dags_test(dag_id, tmp_path / "events.jsonl")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "state=success" in done.stdout + done.stderr, done.stdout[-6000:] + done.stderr[-3000:]
    assert events
    for event in events:
        validate_event(event)

    # publish: the odd-named local input by content, the odd-named output dataset and the stored output (S3 store)
    publish = of_task(events, dag_id, "publish", "COMPLETE")
    job = publish["run"]["facets"]["dsjobsRun"]
    record = lineage_env.read(job["jobId"])
    assert job["status"] == "SUCCESS" and job["project"] == "default"
    assert job["url"] == CONSOLE.format(project="default", job_id=record.id)
    assert publish["run"]["facets"]["externalQuery"]["externalQueryId"] == record.id
    facet = publish["job"]["facets"]["dsjobsJob"]
    assert facet["kind"] == "config" and facet["image"] == test_image
    assert facet["configHash"].startswith("sha256:")
    (local,) = by_role(publish["inputs"], "local-input")
    assert (local["namespace"], local["name"]) == ("dsjobs://default", f"blobs/{record.inputs[0].sha256}")
    assert local["facets"]["dsjobsData"]["path"].endswith("/" + ODD_FILE)
    assert local["facets"]["dsjobsData"]["var"] == "NOTE"
    (published,) = by_role(publish["outputs"], "output-dataset")
    dataset_id = record.output_datasets[ODD_DATASET]
    assert published["namespace"] == "dsjobs://default"
    assert published["name"] == "datasets/" + urllib.parse.quote(ODD_DATASET, safe="")
    assert published["facets"]["version"]["datasetVersion"] == dataset_id
    (stored,) = by_role(publish["outputs"], "output")
    assert (stored["namespace"], stored["name"]) == (f"s3://{bucket}", record.outputs["RESULT"].split("/", 3)[3])
    assert stored["name"].startswith("store/") and stored["name"].endswith("result.txt")

    # the asset of that dataset converts to the very dataset the job reported
    from airflow_provider_dsjobs.assets import convert_asset_to_openlineage, create_asset

    asset = convert_asset_to_openlineage(create_asset(project="default", name=ODD_DATASET), None)
    assert (asset.namespace, asset.name) == (published["namespace"], published["name"])

    # consume: the dataset it read by ID is the one publish wrote (one node of the graph), and the s3-mount
    consume = of_task(events, dag_id, "consume", "COMPLETE")
    (read,) = by_role(consume["inputs"], "dataset")
    assert (read["namespace"], read["name"]) == (published["namespace"], published["name"])
    assert read["facets"]["version"]["datasetVersion"] == dataset_id
    assert read["facets"]["dsjobsData"]["var"] == "DS"
    (mount,) = by_role(consume["inputs"], "s3-mount")
    assert (mount["namespace"], mount["name"]) == (f"s3://{bucket}", "lake/2024")
    assert mount["facets"]["dsjobsData"] == {**mount["facets"]["dsjobsData"], "mountId": "lake", "readWrite": False}
    assert [o["name"].rsplit("/", 1)[-1] for o in by_role(consume["outputs"], "output")] == ["listing.txt"]

    # a job handed off (wait_for_completion=False) and the sensor that watched it report the same job
    launched = of_task(events, dag_id, "launch", "COMPLETE")["run"]["facets"]["dsjobsRun"]["jobId"]
    watch = of_task(events, dag_id, "watch", "COMPLETE")
    assert watch["run"]["facets"]["dsjobsRun"]["jobId"] == launched
    assert watch["run"]["facets"]["dsjobsRun"]["status"] == "SUCCESS"
    assert [o["name"].rsplit("/", 1)[-1] for o in by_role(watch["outputs"], "output")] == ["later.txt"]

    # the ML Lab job: its kind and image, and its code shipped by content
    lab = of_task(events, dag_id, "lab", "COMPLETE")
    assert lab["job"]["facets"]["dsjobsJob"]["kind"] == "lab"
    assert lab["job"]["facets"]["dsjobsJob"]["image"] == test_image
    (ref,) = lineage_env.read(lab["run"]["facets"]["dsjobsRun"]["jobId"]).inputs
    (code,) = by_role(lab["inputs"], "local-input")
    assert code["name"] == f"{'trees' if ref.kind == 'dir' else 'blobs'}/{ref.sha256}"
    assert code["facets"]["dsjobsData"]["path"] == ref.path


def test_a_failing_job_emits_a_valid_fail_event_with_its_error(
    airflow_db: None, dsjobs_home: Path, tmp_path: Path
) -> None:
    dag_id = "dsjobs_test_lineage_fail"
    _, events = dags_test(dag_id, tmp_path / "events.jsonl")
    for event in events:
        validate_event(event)
    fail = of_task(events, dag_id, "broken", "FAIL")
    job = fail["run"]["facets"]["dsjobsRun"]
    assert (job["status"], job["returnCode"]) == ("ERROR", 3)
    assert job["statusDetails"] == "program exited with code 3"
    assert "exited with code 3" in fail["run"]["facets"]["errorMessage"]["message"]
    assert job["jobId"] in fail["run"]["facets"]["errorMessage"]["message"]
    # a local store: the job's outputs would be files; the job itself is named by its ID
    assert fail["run"]["facets"]["externalQuery"]["externalQueryId"] == job["jobId"]
