"""Shared fixtures: a real Docker engine and a real S3 endpoint (a moto server process on 127.0.0.1).

When ``DSJOBS_REQUIRE_DOCKER=1`` (CI sets it) a missing engine is a test failure, never a skip; likewise
``DSJOBS_REQUIRE_S3=1`` for the moto server and ``DSJOBS_REQUIRE_SPARK=1`` for the Spark Connect server.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dsjobs.settings import Settings
from tests.jobs.service_helpers import STORES, make_settings

#: Image used by tests for plain jobs; built locally by scripts/build-test-image.sh.
TEST_IMAGE = os.environ.get("DSJOBS_TEST_IMAGE", "dsjobs-test/python:3.11")


def _required(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0", "false", "no")


def _unavailable(what: str, require_var: str, why: str) -> None:
    message = f"{what} unavailable: {why}"
    if _required(require_var):
        pytest.fail(f"{message} ({require_var} is set, so this is an error, not a skip)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def docker_client() -> Iterator[object]:
    """A docker SDK client for the engine the tests use (DSJOBS_DOCKER_URL / DOCKER_HOST / local socket)."""
    import docker

    url = os.environ.get("DSJOBS_DOCKER_URL") or os.environ.get("DOCKER_HOST")
    try:
        client = docker.DockerClient(base_url=url) if url else docker.from_env()
        client.ping()
    except Exception as exc:  # any failure to reach the engine
        _unavailable("Docker engine", "DSJOBS_REQUIRE_DOCKER", str(exc).splitlines()[0] if str(exc) else repr(exc))
    yield client
    client.close()


@pytest.fixture(scope="session")
def docker_engine(docker_client: object) -> object:
    """The same engine as ``docker_client``, as the core reaches it (``runtime.engine.DockerEngine``)."""
    import docker

    from airflow_provider_dsjobs.runtime.engine import DockerEngine

    assert isinstance(docker_client, docker.DockerClient)
    return DockerEngine(docker_client.api, str(docker_client.api.base_url))


@pytest.fixture(scope="session")
def test_image(docker_client: object) -> str:
    """The locally built image tests run plain jobs in; its absence is an error, not a skip, in CI."""
    import docker

    assert isinstance(docker_client, docker.DockerClient)
    try:
        docker_client.images.get(TEST_IMAGE)
    except docker.errors.ImageNotFound:
        _unavailable(f"test image {TEST_IMAGE}", "DSJOBS_REQUIRE_DOCKER", "run scripts/build-test-image.sh")
    return TEST_IMAGE


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _moto_process(log: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """A moto server process on 127.0.0.1 (``env`` added to its environment); yields its endpoint URL."""
    exe = shutil.which("moto_server") or str(Path(sys.executable).with_name("moto_server"))
    if not Path(exe).exists():
        _unavailable("moto S3 server", "DSJOBS_REQUIRE_S3", "moto_server is not installed (pip install 'moto[server]')")
    port = _free_port()
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            [exe, "-H", "127.0.0.1", "-p", str(port)],
            stdout=fh,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
    if proc.poll() is not None:
        _unavailable("moto S3 server", "DSJOBS_REQUIRE_S3", f"it exited: {log.read_text(errors='replace')[-500:]}")
    try:
        yield endpoint
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto S3 server process on 127.0.0.1 that accepts any credentials; yields its endpoint URL."""
    with _moto_process(tmp_path_factory.mktemp("moto") / "moto.log") as endpoint:
        yield endpoint


@dataclasses.dataclass(frozen=True)
class SignedS3:
    """A second S3 service that checks who signs: only ``access_key_id``/``secret_access_key`` may use it."""

    endpoint: str
    access_key_id: str
    secret_access_key: str
    bucket: str


@pytest.fixture(scope="session")
def signed_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SignedS3]:
    """A moto server with IAM authentication on (after the three set-up calls that create its one user, that
    user's policy and key), holding one bucket; a request signed with any other key is refused."""
    import json

    import boto3

    with _moto_process(
        tmp_path_factory.mktemp("moto-signed") / "moto.log", {"INITIAL_NO_AUTH_ACTION_COUNT": "3"}
    ) as ep:
        iam = boto3.client("iam", endpoint_url=ep, region_name="us-east-1", aws_access_key_id="setup",
                           aws_secret_access_key="setup")  # fmt: skip
        iam.create_user(UserName="lake")
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
        iam.put_user_policy(UserName="lake", PolicyName="s3", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName="lake")["AccessKey"]
        lake = SignedS3(ep, key["AccessKeyId"], key["SecretAccessKey"], f"lake-{uuid.uuid4().hex[:8]}")
        boto3.client("s3", endpoint_url=ep, region_name="us-east-1", aws_access_key_id=lake.access_key_id,
                     aws_secret_access_key=lake.secret_access_key).create_bucket(Bucket=lake.bucket)  # fmt: skip
        yield lake


@dataclasses.dataclass(frozen=True)
class SparkConnect:
    """A running Spark Connect server: ``remote`` is where a job's container reaches it, ``image`` a job image
    with a pyspark Connect client."""

    remote: str
    image: str
    version: str


@pytest.fixture(scope="session")
def spark_connect(docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkConnect]:
    """A real Spark Connect server from the ``pyspark`` package (``scripts/ensure-spark.sh`` installs it and the
    client image; ``scripts/test.sh`` exports ``DSJOBS_TEST_SPARK_HOME``/``DSJOBS_TEST_SPARK_IMAGE``), started once
    per session on the Docker bridge's gateway address, the only host address a job's container reaches."""
    home, image = os.environ.get("DSJOBS_TEST_SPARK_HOME", ""), os.environ.get("DSJOBS_TEST_SPARK_IMAGE", "")
    submit = Path(home, "bin", "spark-submit")
    if not submit.is_file() or not image:
        _unavailable("Spark Connect server", "DSJOBS_REQUIRE_SPARK", "run scripts/ensure-spark.sh and set "
                     "DSJOBS_TEST_SPARK_HOME and DSJOBS_TEST_SPARK_IMAGE to what it prints")  # fmt: skip
    gateway = docker_client.networks.get("bridge").attrs["IPAM"]["Config"][0]["Gateway"]
    with socket.socket() as sock:
        sock.bind((gateway, 0))
        port = int(sock.getsockname()[1])
    workdir = tmp_path_factory.mktemp("spark-connect")
    log = workdir / "server.log"
    command = [str(submit), "--class", "org.apache.spark.sql.connect.service.SparkConnectServer", "--master",
               "local[2]", "--driver-memory", "1g", "--conf", f"spark.connect.grpc.binding.address={gateway}",
               "--conf", f"spark.connect.grpc.binding.port={port}", "--conf", "spark.ui.enabled=false",
               "spark-internal"]  # fmt: skip
    with open(log, "wb") as fh:
        proc = subprocess.Popen(command, cwd=workdir, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True,
                                env={**os.environ, "SPARK_HOME": home})  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while b"Spark Connect server started" not in log.read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Spark Connect server did not start: {log.read_text(errors='replace')[-1500:]}")
            time.sleep(0.5)
        version = next(p.name.split("-")[-1][: -len(".jar")] for p in Path(home, "jars").glob("spark-connect_*.jar"))
        yield SparkConnect(f"sc://{gateway}:{port}", image, version)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()


@pytest.fixture()
def s3_env(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Fake AWS credentials and the moto endpoint in the environment; a fresh bucket per test.
    Returns ``{"endpoint": ..., "bucket": ..., "url": "s3://bucket/prefix"}``."""
    import boto3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("DSJOBS_S3_ENDPOINT_URL", moto_server)
    bucket = f"dsjobs-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1").create_bucket(Bucket=bucket)
    return {"endpoint": moto_server, "bucket": bucket, "url": f"s3://{bucket}/tests"}


# -- a fresh project for job service and job CLI tests (tests/jobs, tests/cli) -----------------------------
# Every container a test creates carries the label ``dsjobs.project=<the test's project>`` and is removed at
# the end; ``settings`` runs a test with both stores, ``local_settings`` with the local one.


@pytest.fixture()
def project() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture()
def cleanup_containers(docker_client: Any, project: str) -> Iterator[None]:
    yield
    for c in docker_client.containers.list(all=True, filters={"label": f"dsjobs.project={project}"}):
        with contextlib.suppress(Exception):
            c.remove(force=True)


@pytest.fixture(params=STORES)
def settings(
    request: pytest.FixtureRequest, tmp_path: Path, test_image: str, project: str, cleanup_containers: None
) -> Settings:
    return make_settings(request.param, request, tmp_path, test_image, project)


@pytest.fixture()
def local_settings(
    request: pytest.FixtureRequest, tmp_path: Path, test_image: str, project: str, cleanup_containers: None
) -> Settings:
    return make_settings("local", request, tmp_path, test_image, project)


@pytest.fixture()
def pyenv_settings(local_settings: Settings, docker_client: Any) -> Iterator[Settings]:
    """Settings whose Python image is the test image; removes the env volumes the test created."""
    before = {v.name for v in docker_client.volumes.list(filters={"label": "dsjobs.pyenv=1"})}
    yield dataclasses.replace(local_settings, python_image_template=local_settings.default_image)
    for volume in docker_client.volumes.list(filters={"label": "dsjobs.pyenv=1"}):
        if volume.name not in before:
            with contextlib.suppress(Exception):
                volume.remove()
