"""Fixtures shared by the job service and job CLI tests: settings for a fresh project on a real Docker engine,
with the store either a local directory or the moto S3 server. Every container a test creates carries the
label ``dsjobs.project=<the test's project>`` and is removed at the end."""

from __future__ import annotations

import contextlib
import dataclasses
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dsjobs.settings import Settings

STORES = ["local", "s3"]


@pytest.fixture()
def project() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture()
def cleanup_containers(docker_client: Any, project: str) -> Iterator[None]:
    yield
    for c in docker_client.containers.list(all=True, filters={"label": f"dsjobs.project={project}"}):
        with contextlib.suppress(Exception):
            c.remove(force=True)


def make_settings(kind: str, request: pytest.FixtureRequest, tmp_path: Path, image: str, project: str) -> Settings:
    if kind == "s3":
        s3 = request.getfixturevalue("s3_env")
        return Settings(
            store_url=s3["url"],
            s3_endpoint_url=s3["endpoint"],
            project=project,
            default_image=image,
            home=tmp_path / "home",
        )
    return Settings(
        store_url=(tmp_path / "store").as_uri(), project=project, default_image=image, home=tmp_path / "home"
    )


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
def pyenv_settings(local_settings: Settings, docker_client: Any) -> Any:
    """Settings whose Python image is the test image; removes the env volumes the test created."""
    before = {v.name for v in docker_client.volumes.list(filters={"label": "dsjobs.pyenv=1"})}
    yield dataclasses.replace(local_settings, python_image_template=local_settings.default_image)
    for volume in docker_client.volumes.list(filters={"label": "dsjobs.pyenv=1"}):
        if volume.name not in before:
            with contextlib.suppress(Exception):
                volume.remove()


#: A job with a manual Python environment: main.py, a local package lib/ and an (empty) requirements.txt.
PYENV = """
cmd: python main.py
inputs:
  - main.py
env:
  python:
    type: manual
    version: "3.11"
    requirements-file: requirements.txt
    local-paths: [lib]
"""


def write_job(directory: Path, config: str, files: dict[str, str] | None = None) -> Path:
    """A job directory with ``config.yaml`` and some files; returns the config path."""
    directory.mkdir(parents=True, exist_ok=True)
    for rel, text in (files or {}).items():
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    cfg = directory / "config.yaml"
    cfg.write_text(config)
    return cfg


def wait_for(predicate: Callable[[], bool], timeout: float = 60, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")
