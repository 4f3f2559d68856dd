"""Fixtures for runtime tests: a connected engine and a Runtime that removes every container and volume it made."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from airflow_provider_dsjobs.runtime.engine import DockerEngine, connect_engine
from airflow_provider_dsjobs.settings import Settings
from tests.runtime.helpers import TrackingRuntime


@pytest.fixture(scope="session")
def engine(docker_client: object) -> Iterator[DockerEngine]:
    url = os.environ.get("DSJOBS_DOCKER_URL") or os.environ.get("DOCKER_HOST")
    eng = connect_engine(Settings(docker_url=url))
    yield eng
    eng.close()


@pytest.fixture()
def runtime(engine: DockerEngine, test_image: str) -> Iterator[TrackingRuntime]:
    rt = TrackingRuntime(engine, test_image)
    yield rt
    rt.cleanup()
