"""Helpers for the job service and job CLI tests: settings for a fresh project on a real Docker engine with the
store either a local directory or the moto S3 server (``make_settings``; the ``settings``/``local_settings``
fixtures in ``tests/conftest.py`` use it), a job directory, a polling wait."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dsjobs.settings import Settings

STORES = ["local", "s3"]


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


def helpers_created(docker_client: Any, since: float, project: str, helper: str) -> int:
    """How many helper containers of kind ``helper`` (label ``dsjobs.helper``) the engine created for ``project``
    since ``since`` (its own event log: a helper removed meanwhile still counts)."""
    events = docker_client.api.events(
        since=int(since),
        until=int(time.time()) + 1,
        filters={
            "type": "container",
            "event": "create",
            "label": [f"dsjobs.helper={helper}", f"dsjobs.project={project}"],
        },
        decode=True,
    )
    return sum(1 for _ in events)
