"""Shared fixtures: a real Docker engine and a real S3 endpoint (a moto server process on 127.0.0.1).

When ``DSJOBS_REQUIRE_DOCKER=1`` (CI sets it) a missing engine is a test failure, never a skip; likewise
``DSJOBS_REQUIRE_S3=1`` for the moto server.
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
from tests.helpers import free_port, unavailable
from tests.jobs.service_helpers import STORES, make_settings

#: Image used by tests for plain jobs; built locally by scripts/build-test-image.sh.
TEST_IMAGE = os.environ.get("DSJOBS_TEST_IMAGE", "dsjobs-test/python:3.11")


@pytest.fixture(scope="session")
def docker_client() -> Iterator[object]:
    """A docker SDK client for the engine the tests use (DSJOBS_DOCKER_URL / DOCKER_HOST / local socket)."""
    import docker

    url = os.environ.get("DSJOBS_DOCKER_URL") or os.environ.get("DOCKER_HOST")
    try:
        client = docker.DockerClient(base_url=url) if url else docker.from_env()
        client.ping()
    except Exception as exc:  # any failure to reach the engine
        unavailable("Docker engine", "DSJOBS_REQUIRE_DOCKER", str(exc).splitlines()[0] if str(exc) else repr(exc))
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
        unavailable(f"test image {TEST_IMAGE}", "DSJOBS_REQUIRE_DOCKER", "run scripts/build-test-image.sh")
    return TEST_IMAGE


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto S3 server process on 127.0.0.1; yields its endpoint URL."""
    exe = shutil.which("moto_server") or str(Path(sys.executable).with_name("moto_server"))
    if not Path(exe).exists():
        unavailable("moto S3 server", "DSJOBS_REQUIRE_S3", "moto_server is not installed (pip install 'moto[server]')")
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(port)], stdout=fh, stderr=subprocess.STDOUT)
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
        unavailable("moto S3 server", "DSJOBS_REQUIRE_S3", f"it exited: {log.read_text(errors='replace')[-500:]}")
    yield endpoint
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


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
