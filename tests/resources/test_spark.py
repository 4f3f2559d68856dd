"""A Spark connector against a real Spark Connect server (``pyspark``'s own jars, started once per session by the
``spark_connect`` fixture): a job whose config names the connector runs ``SparkSession.builder.getOrCreate()``
with nothing but its environment, and Spark computes what the job prints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dsjobs.config import load_config
from airflow_provider_dsjobs.documents.record import JobStatus
from airflow_provider_dsjobs.jobs.service import JobService
from airflow_provider_dsjobs.settings import Settings
from tests.jobs.service_helpers import write_job
from tests.servers import SparkConnect

pytestmark = [pytest.mark.docker]

#: The job's program: no endpoint, no settings; SPARK_REMOTE is all it has. Then, as DataSphere's
#: connect_to_spark() does, it applies the session parameters of JOB_DATAPROC_CONNECTION_CONFIG.
SUMS_PY = """
import json, os
from pyspark.sql import SparkSession

spark = SparkSession.builder.getOrCreate()
rows = spark.range(1, 1001).selectExpr("id % 3 AS k", "id").groupBy("k").sum("id").collect()
with open(os.environ["JOB_DATAPROC_CONNECTION_CONFIG"]) as f:
    for key, value in json.load(f)["session_params"].items():
        spark.conf.set(key, value)
print(json.dumps({"version": spark.version, "sums": {str(r["k"]): r["sum(id)"] for r in rows},
                  "partitions": spark.conf.get("spark.sql.shuffle.partitions")}))
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


def expected(version: str, partitions: str) -> dict[str, Any]:
    """What the job prints: the server's version, the sums computed here, the session parameter it applied."""
    sums = {str(k): sum(i for i in range(1, 1001) if i % 3 == k) for k in range(3)}
    return {"version": version, "sums": sums, "partitions": partitions}


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
    assert main(["spark-connector", "add", "b1gsparkreal00000001", spark_connect.remote,
                 "--conf", "spark.sql.shuffle.partitions=5", *common]) == 0  # fmt: skip
    service = JobService(local_settings)
    job = service.submit(load_config(spark_job(tmp_path / "job", spark_connect.image, "b1gsparkreal00000001")))
    done = service.wait(job.id)
    assert done.status == JobStatus.SUCCESS, (done.status_details, list(service.logs(job.id))[-20:])
    assert printed_result(service, job.id) == expected(spark_connect.version, partitions="5")
