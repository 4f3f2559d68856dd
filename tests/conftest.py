"""Shared fixtures: a real Docker engine and a real S3 endpoint (a moto server process on 127.0.0.1).

When ``DSJOBS_REQUIRE_DOCKER=1`` (CI sets it) a missing engine is a test failure, never a skip; likewise
``DSJOBS_REQUIRE_S3=1`` for the moto server and ``DSJOBS_REQUIRE_SPARK=1`` for the Spark Connect server
(the processes themselves are started by ``tests/servers.py``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dsjobs.settings import Settings
from tests.helpers import required, unavailable
from tests.jobs.service_helpers import STORES, make_settings
from tests.servers import SignedS3, SparkConnect, moto_process, signed_s3_service, spark_connect_server

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
def second_engine(test_image: str) -> str:
    """The URL of a second Docker engine on this machine with the test image (``scripts/ensure-second-engine.sh``
    starts it once; it keeps running for later sessions). Missing is a failure with ``DSJOBS_REQUIRE_DOCKER=1`` or
    ``DSJOBS_REQUIRE_SECOND_ENGINE=1``."""
    import subprocess

    script = Path(__file__).resolve().parent.parent / "scripts" / "ensure-second-engine.sh"
    env = {**os.environ, "DSJOBS_TEST_IMAGE": test_image}
    try:
        proc = subprocess.run([str(script)], capture_output=True, text=True, timeout=600, env=env, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        proc = None
        why = str(exc)
    if proc is None or proc.returncode != 0 or not proc.stdout.strip():
        why = (proc.stderr.strip().splitlines() or ["no output"])[-1] if proc is not None else why
        require = "DSJOBS_REQUIRE_DOCKER" if required("DSJOBS_REQUIRE_DOCKER") else "DSJOBS_REQUIRE_SECOND_ENGINE"
        unavailable("second Docker engine", require, why)
    return proc.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto S3 server process on 127.0.0.1 that accepts any key; yields its endpoint URL."""
    with moto_process(tmp_path_factory.mktemp("moto") / "moto.log") as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def signed_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SignedS3]:
    """A second S3 service (moto with IAM authentication) that only its own key opens, holding one bucket."""
    with signed_s3_service(tmp_path_factory.mktemp("moto-signed") / "moto.log") as lake:
        yield lake


def bridge_gateway(docker_client: Any) -> str:
    """The address containers on the default bridge reach the host at. An engine that found its bridge already
    configured (dockerd restarted on the same machine) reports only the subnet, not the gateway: then it is the
    bridge's first address, as dockerd assigns it."""
    config = docker_client.networks.get("bridge").attrs["IPAM"]["Config"][0]
    if config.get("Gateway"):
        return str(config["Gateway"])
    return str(next(ipaddress.ip_network(config["Subnet"], strict=False).hosts()))


@pytest.fixture(scope="session")
def spark_connect(docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkConnect]:
    """A real Spark Connect server, started once per session on the Docker bridge's gateway address."""
    with spark_connect_server(bridge_gateway(docker_client), tmp_path_factory.mktemp("spark-connect")) as server:
        yield server


#: The image with s3fs and the shared mount root the lazy S3 mount tests use (scripts/ensure-lazy-mounts.sh).
S3FS_IMAGE = os.environ.get("DSJOBS_S3FS_IMAGE", "dsjobs-test/s3fs:1.90")
LAZY_MOUNT_ROOT = os.environ.get("DSJOBS_LAZY_MOUNT_ROOT", "/var/lib/dsjobs/lazy-mounts")


@dataclasses.dataclass(frozen=True)
class Fuse:
    image: str
    root: str


@pytest.fixture(scope="session")
def fuse(docker_client: Any) -> Fuse:
    """What lazy S3 mounts need on the (local) engine: /dev/fuse, the s3fs image, a shared mount root. Missing is a
    failure with ``DSJOBS_REQUIRE_FUSE=1`` (scripts/test.sh sets it), else a skip."""
    fix = "run scripts/ensure-lazy-mounts.sh"
    if not Path("/dev/fuse").exists():
        unavailable("FUSE", "DSJOBS_REQUIRE_FUSE", "/dev/fuse does not exist")
    try:
        docker_client.images.get(S3FS_IMAGE)
    except Exception:
        unavailable("FUSE", "DSJOBS_REQUIRE_FUSE", f"no image {S3FS_IMAGE}: {fix}")
    shared = any(
        line.split()[4] == LAZY_MOUNT_ROOT and "shared:" in line.split(" - ")[0]
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
    )
    if not shared:
        unavailable("FUSE", "DSJOBS_REQUIRE_FUSE", f"{LAZY_MOUNT_ROOT} is not a shared mount: {fix}")
    return Fuse(S3FS_IMAGE, LAZY_MOUNT_ROOT)


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
    for kind in ("dataset", "s3-mount"):  # engine caches its jobs filled (resources/dataset_volumes.py, s3_cache.py)
        for v in docker_client.volumes.list(filters={"label": [f"dsjobs.project={project}", f"dsjobs.cache={kind}"]}):
            with contextlib.suppress(Exception):
                v.remove(force=True)


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
