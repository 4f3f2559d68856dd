"""Fixtures for runtime tests: a connected engine and a Runtime that removes every container and volume it made."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from airflow_provider_dsjobs.runtime.containers import ContainerSpec, Runtime
from airflow_provider_dsjobs.runtime.engine import DockerEngine, connect_engine
from airflow_provider_dsjobs.runtime.shell import shell_command
from airflow_provider_dsjobs.settings import Settings

TEST_LABEL = "dsjobs.test"


@pytest.fixture(scope="session")
def engine(docker_client: object) -> Iterator[DockerEngine]:
    url = os.environ.get("DSJOBS_DOCKER_URL") or os.environ.get("DOCKER_HOST")
    eng = connect_engine(Settings(docker_url=url))
    yield eng
    eng.close()


class TrackingRuntime(Runtime):
    """A Runtime that labels its containers for this test and cleans them up afterwards."""

    def __init__(self, engine: DockerEngine, image: str) -> None:
        super().__init__(engine)
        self.image = image
        self.run_id = uuid.uuid4().hex[:12]
        self.labels = {TEST_LABEL: "runtime", "dsjobs.test.run": self.run_id}
        self.created: list[str] = []
        self.volumes: list[str] = []

    def create(self, spec: ContainerSpec) -> str:
        container_id = super().create(spec)
        self.created.append(container_id)
        return container_id

    def create_volume(self, name: str, labels: dict[str, str]) -> str:
        self.volumes.append(name)
        return super().create_volume(name, labels)

    def spec(self, script: str, **overrides: object) -> ContainerSpec:
        fields: dict[str, object] = {
            "image": self.image,
            "command": shell_command(script),
            "env": {},
            "labels": dict(self.labels),
            "working_dir": "/",
            "stop_signal": "SIGTERM",
        }
        fields.update(overrides)
        return ContainerSpec(**fields)  # type: ignore[arg-type]

    def run(self, script: str, **overrides: object) -> str:
        """Create and start a container running ``script``; returns its id."""
        container_id = self.create(self.spec(script, **overrides))
        self.start(container_id)
        return container_id

    def cleanup(self) -> None:
        for container_id in self.created:
            self.remove(container_id, force=True)
        for name in self.volumes:
            self.remove_volume(name, force=True)


@pytest.fixture()
def runtime(engine: DockerEngine, test_image: str) -> Iterator[TrackingRuntime]:
    rt = TrackingRuntime(engine, test_image)
    yield rt
    rt.cleanup()
