"""A Spark connector against a real Spark Connect server (``pyspark``'s own jars, started once per session by the
``spark_connect`` fixture): a job whose config names the connector runs ``SparkSession.builder.getOrCreate()``
with nothing but its environment, and Spark computes what the job prints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dsjobs.config import load_config
from airflow_provider_dsjobs.jobs.record import JobStatus
from airflow_provider_dsjobs.jobs.service import JobService
from airflow_provider_dsjobs.settings import Settings
from tests.jobs.service_helpers import write_job
from tests.servers import SparkConnect

pytestmark = [pytest.mark.docker]

#: The job's program: no endpoint, no settings; SPARK_REMOTE is all it has.
SUMS_PY = """
import json
from pyspark.sql import SparkSession

spark = SparkSession.builder.getOrCreate()
rows = spark.range(1, 1001).selectExpr("id % 3 AS k", "id").groupBy("k").sum("id").collect()
print(json.dumps({"version": spark.version, "sums": {str(r["k"]): r["sum(id)"] for r in rows}}))
"""

SPARK_JOB = """
cmd: python3 sums.py
inputs:
  - sums.py
env:
  docker: {image}
spark:
  connector: {connector}
"""


def expected_sums() -> dict[str, int]:
    return {str(k): sum(i for i in range(1, 1001) if i % 3 == k) for k in range(3)}


def spark_job(directory: Path, image: str, connector: str) -> Path:
    return write_job(directory, SPARK_JOB.format(image=image, connector=connector), {"sums.py": SUMS_PY})


def printed_result(service: JobService, job_id: str) -> dict[str, Any]:
    """The JSON line the job printed last on stdout (pyspark's warnings go to stderr)."""
    stdout = [line for stream, line in service.logs(job_id) if stream == "stdout"]
    assert stdout, list(service.logs(job_id))
    return dict(json.loads(stdout[-1]))


def test_a_job_computes_on_the_spark_connect_server_its_connector_names(
    local_settings: Settings, spark_connect: SparkConnect, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_dsjobs.cli.main import main

    monkeypatch.setenv("DSJOBS_HOME", str(local_settings.home))
    common = ["--store", str(local_settings.store_url), "--project", local_settings.project]
    assert main(["spark-connector", "add", "b1gsparkreal00000001", spark_connect.remote, *common]) == 0
    service = JobService(local_settings)
    job = service.submit(load_config(spark_job(tmp_path / "job", spark_connect.image, "b1gsparkreal00000001")))
    done = service.wait(job.id)
    assert done.status == JobStatus.SUCCESS, (done.status_details, list(service.logs(job.id))[-20:])
    assert printed_result(service, job.id) == {"version": spark_connect.version, "sums": expected_sums()}
