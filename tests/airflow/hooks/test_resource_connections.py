"""S3 connectors and Spark connectors from Airflow connections (``hooks/resource_connections.py``): the operator,
run in-process against the real core, Docker engine and S3 services, resolves ``s3-mounts`` IDs through ``aws``
connections with their own endpoint and credentials, before the project's registry, and ``spark.connector`` IDs
through ``spark_connect`` connections to a real Spark Connect server; secrets stay masked and out of the
container, XCom, the store and the task log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from airflow_provider_dsjobs.compat import AirflowException, AirflowFailException, redact, reset_secrets_masker
from airflow_provider_dsjobs.hooks import DataSphereJobsHook
from airflow_provider_dsjobs.hooks.resource_connections import airflow_spark_connectors, check_mapping
from airflow_provider_dsjobs.operators import DataSphereJobOperator
from airflow_provider_dsjobs.resources.s3_connectors import ConnectorRegistry
from airflow_provider_dsjobs.resources.spark import SparkConnectorError
from tests.airflow.helpers import make_context
from tests.airflow.hooks.helpers import set_conn
from tests.airflow.operators.test_job import make_dag, run
from tests.conftest import Fuse
from tests.resources.test_spark import expected, printed_result, spark_job
from tests.servers import SignedS3, SparkConnect

pytestmark = [pytest.mark.docker, pytest.mark.airflow]

MOUNTS_JOB = {
    "cmd": "cat ${A}/x.txt ${B}/y.txt; env | grep -c '^AWS_' || true",
    "s3-mounts": [{"lake01": "A"}, {"more": "B"}],
}


@pytest.fixture()
def store_conn(dsjobs_home: Path, moto_server: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """``dsjobs_default``: the job store on the first (any-key) moto server, with keys of its own."""
    bucket = "store-" + dsjobs_home.parent.name[-8:].lower().replace("_", "-")
    boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1", aws_access_key_id="k",
                 aws_secret_access_key="k").create_bucket(Bucket=bucket)  # fmt: skip
    extra = {"store_url": f"s3://{bucket}/store", "endpoint_url": moto_server, "region_name": "us-east-1"}
    return {"conn_type": "dsjobs", "login": "store-key-id", "password": "store-secret-4711", "extra": extra}


def put_lake(lake: SignedS3, key: str, body: bytes) -> None:
    keys = {"aws_access_key_id": lake.access_key_id, "aws_secret_access_key": lake.secret_access_key}
    client = boto3.client("s3", endpoint_url=lake.endpoint, region_name="us-east-1", **keys)
    client.put_object(Bucket=lake.bucket, Key=key, Body=body)


def lake_conn(lake: SignedS3, **extra: Any) -> dict[str, Any]:
    extra = {"endpoint_url": lake.endpoint, "region_name": "us-east-1", **extra}
    return {"conn_type": "aws", "login": lake.access_key_id, "password": lake.secret_access_key, "extra": extra}


def run_job(config: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    dag = make_dag()
    dag.fileloc = str(tmp_path / "dag.py")
    op = DataSphereJobOperator(task_id="mounts", config=config, dag=dag, poll_interval=0.5)
    return run(op, make_context())


def test_s3_mounts_resolve_through_aws_connections_with_their_own_endpoint_and_keys(
    store_conn: dict[str, Any],
    signed_s3: SignedS3,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    reset_secrets_masker()
    put_lake(signed_s3, "data/x.txt", b"x from the lake\n")
    put_lake(signed_s3, "more/y.txt", b"y from the lake\n")
    # "lake01" by the naming rule (the connection's extra names the bucket); "more" by the dsjobs connection's
    # mapping, which reuses another aws connection for a second prefix.
    set_conn(monkeypatch, "dsjobs_s3_lake01", **lake_conn(signed_s3, s3_url=f"s3://{signed_s3.bucket}/data"))
    set_conn(monkeypatch, "lake_aws", **lake_conn(signed_s3))
    more = {"conn_id": "lake_aws", "url": f"s3://{signed_s3.bucket}/more", "read_write": True}
    store_conn["extra"]["s3_connectors"] = {"more": more}
    set_conn(monkeypatch, "dsjobs_default", **store_conn)
    service = DataSphereJobsHook().get_conn()
    # The project's registry knows "lake01" too, elsewhere: the Airflow connection wins.
    ConnectorRegistry(service.store, service.project).add("lake01", "s3://no-such-bucket/data")

    result = run_job({**MOUNTS_JOB, "cmd": MOUNTS_JOB["cmd"] + "; echo written > ${B}/out.txt"}, tmp_path)

    assert result["status"] == "SUCCESS"
    lines = [line for stream, line in service.logs(result["job_id"]) if stream == "stdout"]
    assert lines == ["x from the lake", "y from the lake", "0"]  # no AWS_* variable inside the container
    # "more" is read-write: what the job wrote there went back to the lake through the same connection.
    keys = {"aws_access_key_id": signed_s3.access_key_id, "aws_secret_access_key": signed_s3.secret_access_key}
    lake = boto3.client("s3", endpoint_url=signed_s3.endpoint, region_name="us-east-1", **keys)
    assert lake.get_object(Bucket=signed_s3.bucket, Key="more/out.txt")["Body"].read() == b"written\n"
    secret = signed_s3.secret_access_key
    assert str(redact(f"key {secret}")) == "key ***"  # masked in the task log from the moment it was read
    assert secret not in json.dumps(result) and secret not in caplog.text
    stored = [i.key for i in service.store.list("") if secret.encode() in service.store.get_bytes(i.key)]
    assert stored == []  # not in the record, the plan or the logs in the store


def test_connector_connections_that_cannot_work_fail_with_one_clear_line(
    store_conn: dict[str, Any], signed_s3: SignedS3, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_conn["extra"]["s3_connectors"] = {"more": "missing_aws"}
    set_conn(monkeypatch, "dsjobs_default", **store_conn)
    set_conn(monkeypatch, "dsjobs_s3_lake01", **lake_conn(signed_s3, s3_url=f"s3://{signed_s3.bucket}/data"))
    with pytest.raises(AirflowException) as caught:
        run_job(MOUNTS_JOB, tmp_path)
    assert "s3-mounts[1]: connector 'more' names the Airflow connection 'missing_aws', which does not exist" in str(
        caught.value
    )

    # The store's keys do not open the lake: a connection without a bucket, then one with a wrong key.
    set_conn(monkeypatch, "dsjobs_s3_lake01", **lake_conn(signed_s3))
    with pytest.raises(AirflowException, match="Airflow connection 'dsjobs_s3_lake01' names no bucket: set its"):
        run_job({"cmd": "ls ${A}", "s3-mounts": [{"lake01": "A"}]}, tmp_path)
    wrong = lake_conn(signed_s3, s3_url=f"s3://{signed_s3.bucket}/data")
    wrong["password"] = "not-the-lake-secret-1"
    set_conn(monkeypatch, "dsjobs_s3_lake01", **wrong)
    with pytest.raises(AirflowException) as caught:
        run_job({"cmd": "ls ${A}", "s3-mounts": [{"lake01": "A"}]}, tmp_path)
    message = str(caught.value)
    assert f"s3-mount s3://{signed_s3.bucket}/data: access denied to s3://{signed_s3.bucket}/data" in message
    assert "\n" not in message and "not-the-lake-secret-1" not in message


def test_a_spark_connect_connection_becomes_spark_remote_with_a_masked_token(monkeypatch: pytest.MonkeyPatch) -> None:
    reset_secrets_masker()
    set_conn(monkeypatch, "dsjobs_spark_c1", conn_type="spark_connect", host="sc://spark.example", port=15002,
             login="etl", password="spark-tok-5150", extra={"use_ssl": True, "session_params": {"a.b": 4}})  # fmt: skip
    set_conn(monkeypatch, "plain", conn_type="spark_connect", host="spark2.example:443")
    resolve = airflow_spark_connectors(check_mapping('{"c2": "plain"}', "spark_connectors"))  # as the form stores it
    endpoint = resolve("c1")
    assert endpoint is not None
    assert (
        endpoint.job_env()["SPARK_REMOTE"] == "sc://spark.example:15002/;user_id=etl;use_ssl=true;token=spark-tok-5150"
    )
    assert json.loads(endpoint.connection_config())["session_params"] == {"a.b": "4"}
    assert str(redact("t spark-tok-5150")) == "t ***"
    assert "spark-tok-5150" not in repr(endpoint)
    plain = resolve("c2")
    assert plain is not None and plain.job_env()["SPARK_REMOTE"] == "sc://spark2.example:443"
    assert resolve("c3") is None  # no connection by the naming rule: the project's registry is asked next
    set_conn(monkeypatch, "dsjobs_spark_c4", conn_type="spark_connect", host="http://x:1")
    with pytest.raises(SparkConnectorError, match=r"'dsjobs_spark_c4': host 'http://x:1' is not a Spark Connect"):
        resolve("c4")
    set_conn(monkeypatch, "ds", conn_type="dsjobs", extra={"spark_connectors": ["c1"]})
    with pytest.raises(AirflowFailException, match=r"^connection 'ds': dsjobs connection extra spark_connectors must"):
        DataSphereJobsHook(dsjobs_conn_id="ds").get_settings()


def test_a_job_reaches_the_spark_connect_server_of_a_spark_connect_connection(
    dsjobs_home: Path, spark_connect: SparkConnect, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No dsjobs connection, no registry entry: the connection ``dsjobs_spark_<ID>`` alone names the server."""
    host, port = spark_connect.remote.removeprefix("sc://").rsplit(":", 1)
    set_conn(monkeypatch, "dsjobs_spark_etl", conn_type="spark_connect", host=host, port=int(port),
             extra={"session_params": {"spark.sql.shuffle.partitions": "3"}})  # fmt: skip
    config = spark_job(tmp_path / "job", spark_connect.image, "etl")
    dag = make_dag()
    op = DataSphereJobOperator(task_id="spark", config=str(config), dag=dag, poll_interval=0.5)
    result = run(op, make_context())
    assert result["status"] == "SUCCESS"
    service = DataSphereJobsHook().get_conn()
    assert printed_result(service, result["job_id"]) == expected(spark_connect.version, partitions="3")


def test_an_aws_connection_can_ask_for_a_lazy_mount_and_its_keys_stay_in_the_helper(
    store_conn: dict[str, Any], signed_s3: SignedS3, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fuse: Fuse
) -> None:
    """The lake checks who signs: the s3fs helper reads it with the connection's own keys; the job never has them."""
    reset_secrets_masker()
    put_lake(signed_s3, "lazy/x.txt", b"x read lazily\n")
    store_conn["extra"].update(
        {"lazy_mounts": True, "s3fs_image": fuse.image, "lazy_mount_root": fuse.root, "docker_network": "host"}
    )
    store_conn["extra"]["s3_connectors"] = {"both": {"conn_id": "lake_aws", "read_write": True, "lazy": True}}
    set_conn(monkeypatch, "dsjobs_default", **store_conn)
    set_conn(monkeypatch, "lake_aws", **lake_conn(signed_s3, s3_url=f"s3://{signed_s3.bucket}/lazy", lazy=True))
    set_conn(monkeypatch, "dsjobs_s3_lake01", **lake_conn(signed_s3, s3_url=f"s3://{signed_s3.bucket}/lazy", lazy=True))
    service = DataSphereJobsHook().get_conn()

    job = {"cmd": "cat ${A}/x.txt; grep ' /job/s3/lake01 ' /proc/mounts; env", "s3-mounts": [{"lake01": "A"}]}
    result = run_job(job, tmp_path)

    assert result["status"] == "SUCCESS"
    lines = [line for stream, line in service.logs(result["job_id"]) if stream == "stdout"]
    assert lines[0] == "x read lazily" and lines[1].split()[2] == "fuse.s3fs"  # the lazy mount, not a copy
    assert signed_s3.secret_access_key not in "\n".join(lines) and signed_s3.access_key_id not in "\n".join(lines)
    with pytest.raises(AirflowException, match="a read-write mount cannot be lazy"):
        run_job({"cmd": "ls ${A}", "s3-mounts": [{"both": "A"}]}, tmp_path)
