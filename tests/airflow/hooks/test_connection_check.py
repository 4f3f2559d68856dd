"""The connection form's Test button (``DataSphereJobsHook.test_connection``) and ``docker_conn_id``, against the
real local store, the real Docker engine and a moto S3 server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dsjobs.hooks import DataSphereJobsHook
from tests.airflow.hooks.helpers import set_conn

pytestmark = [pytest.mark.airflow, pytest.mark.docker]


def test_reachable_store_and_engine_pass(clean_env: pytest.MonkeyPatch, test_image: str) -> None:
    set_conn(clean_env, "ds", conn_type="dsjobs", extra={"default_image": test_image, "image_pull_policy": "never"})
    ok, message = DataSphereJobsHook(dsjobs_conn_id="ds").test_connection()
    assert ok, message
    assert "is writable" in message and "Docker engine" in message and "image pull policy never" in message


def test_s3_store_is_written_and_cleaned_up(clean_env: pytest.MonkeyPatch, s3_env: dict[str, Any]) -> None:
    import boto3

    set_conn(
        clean_env,
        "ds",
        conn_type="dsjobs",
        login="testing",
        password="testing",
        extra={"store_url": s3_env["url"], "endpoint_url": s3_env["endpoint"], "region_name": "us-east-1"},
    )
    ok, message = DataSphereJobsHook(dsjobs_conn_id="ds").test_connection()
    assert ok, message
    listed = boto3.client("s3", endpoint_url=s3_env["endpoint"], region_name="us-east-1").list_objects_v2(
        Bucket=s3_env["bucket"]
    )
    assert listed.get("KeyCount", 0) == 0  # the probe object was deleted again


def test_missing_bucket_fails_the_store_check(clean_env: pytest.MonkeyPatch, s3_env: dict[str, Any]) -> None:
    set_conn(
        clean_env,
        "ds",
        conn_type="dsjobs",
        login="testing",
        password="testing",
        extra={"store_url": "s3://dsjobs-no-such-bucket-8/x", "endpoint_url": s3_env["endpoint"]},
    )
    ok, message = DataSphereJobsHook(dsjobs_conn_id="ds").test_connection()
    assert not ok
    assert message.startswith("store check failed: ") and "\n" not in message


def test_unreachable_engine_fails_the_engine_check(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    set_conn(
        clean_env, "ds", conn_type="dsjobs", extra={"docker_url": "tcp://127.0.0.1:1", "docker_allow_insecure": True}
    )
    ok, message = DataSphereJobsHook(dsjobs_conn_id="ds").test_connection()
    assert not ok
    assert "is writable; engine check failed: cannot reach the Docker engine at tcp://127.0.0.1:1" in message


def test_pull_policy_never_without_the_image_fails(clean_env: pytest.MonkeyPatch) -> None:
    set_conn(
        clean_env,
        "ds",
        conn_type="dsjobs",
        extra={"default_image": "dsjobs-issue8/absent:1", "image_pull_policy": "never"},
    )
    ok, message = DataSphereJobsHook(dsjobs_conn_id="ds").test_connection()
    assert not ok
    assert "image dsjobs-issue8/absent:1 is not on the Docker engine and the image pull policy is 'never'" in message


def test_missing_connection_fails_the_test_naming_it(clean_env: pytest.MonkeyPatch) -> None:
    ok, message = DataSphereJobsHook(dsjobs_conn_id="nope").test_connection()
    assert not ok and "'nope' does not exist" in message


def test_docker_conn_id_logs_in_through_docker_hook(clean_env: pytest.MonkeyPatch) -> None:
    password = "docker-conn-pass-31337"
    set_conn(clean_env, "reg", conn_type="docker", host="127.0.0.1", port=1, login="robot", password=password)
    set_conn(clean_env, "ds", conn_type="dsjobs", extra={"docker_conn_id": "reg"})
    ok, message = DataSphereJobsHook(dsjobs_conn_id="ds").test_connection()
    # DockerHook pinged the engine, then tried the registry login the docker connection asks for.
    assert not ok
    assert "engine check failed: cannot use the Docker engine at" in message
    assert "with docker connection 'reg'" in message
    assert password not in message
