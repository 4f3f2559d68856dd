"""Helpers for runtime tests: a ``Runtime`` that labels every container and volume it makes for the test and
removes them afterwards (the ``runtime`` fixture in ``conftest.py`` hands one out)."""

from __future__ import annotations

import uuid

from airflow_provider_dsjobs.runtime.containers import ContainerSpec, Runtime
from airflow_provider_dsjobs.runtime.engine import DockerEngine
from airflow_provider_dsjobs.runtime.shell import shell_command

TEST_LABEL = "dsjobs.test"


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
