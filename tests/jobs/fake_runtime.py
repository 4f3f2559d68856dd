"""An in-memory ``ContainerRuntime`` for the job lifecycle's failure branches: containers are dicts, the files
delivered with ``put_archive`` are kept and exported back as tar streams. Tests drive it by hand (``finish``,
``vanish``) and hook a step (``on_put_archive``) to play another process acting meanwhile. The real-engine tests
in ``test_service.py`` stay the proof that the Docker runtime behaves the same."""

from __future__ import annotations

import io
import itertools
import posixpath
import tarfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_dsjobs.runtime.base import ContainerRuntime
from airflow_provider_dsjobs.runtime.containers import ContainerInfo, ContainerSpec, ContainerState, StopResult
from airflow_provider_dsjobs.runtime.engine import EngineInfo
from airflow_provider_dsjobs.runtime.errors import ContainerNotFound, PathNotFound
from airflow_provider_dsjobs.runtime.logs import StreamName
from airflow_provider_dsjobs.runtime.resources import EngineLoad
from airflow_provider_dsjobs.runtime.tarstream import TarReader


@dataclass
class FakeContainer:
    spec: ContainerSpec
    status: str = "created"
    exit_code: int | None = None
    files: dict[str, bytes] = field(default_factory=dict)  # absolute container path -> content
    logs: list[tuple[StreamName, str]] = field(default_factory=list)
    signals: list[str | None] = field(default_factory=list)


class FakeRuntime:
    """Implements ``runtime.base.ContainerRuntime`` in memory."""

    def __init__(self) -> None:
        self.containers: dict[str, FakeContainer] = {}
        self.volumes: dict[str, dict[str, str]] = {}
        self.removed: list[str] = []
        self.engine_id = "FAKE:ENGINE"
        self.started: list[str] = []
        self.closed = False
        self.on_put_archive: Callable[[str], None] | None = None
        self._ids = itertools.count(1)

    # -- driving it from a test --------------------------------------------------------------------------------
    def finish(self, container_id: str, exit_code: int = 0, files: dict[str, bytes] | None = None) -> None:
        """The program exits with ``exit_code`` having written ``files``."""
        box = self.containers[container_id]
        box.files.update(files or {})
        box.status, box.exit_code = "exited", exit_code

    def vanish(self, container_id: str) -> None:
        """Someone else removed the container."""
        self.containers.pop(container_id, None)

    def _get(self, container_id: str) -> FakeContainer:
        try:
            return self.containers[container_id]
        except KeyError:
            raise ContainerNotFound(f"container {container_id[:12]} does not exist") from None

    # -- the protocol ------------------------------------------------------------------------------------------
    def engine_info(self) -> EngineInfo:
        return EngineInfo(
            cpus=2,
            memory_bytes=8 << 30,
            gpu_support=False,
            runtimes=("runc",),
            server_version="fake",
            engine_id=self.engine_id,
            name="fake",
        )

    def engine_load(self) -> EngineLoad:
        return EngineLoad()

    def stats(self, container_id: str) -> dict[str, Any] | None:
        return None

    def ensure_image(
        self, ref: str, *, username: str | None = None, password: str | None = None, policy: str = "if-missing"
    ) -> str:
        return f"sha256:{ref}"

    def image_env(self, ref: str) -> dict[str, str]:
        return {}

    def create(self, spec: ContainerSpec) -> str:
        container_id = f"c{next(self._ids):011d}"
        self.containers[container_id] = FakeContainer(spec)
        return container_id

    def put_archive(self, container_id: str, path: str, chunks: Iterable[bytes]) -> None:
        box = self._get(container_id)
        with tarfile.open(fileobj=io.BytesIO(b"".join(chunks)), mode="r:") as archive:
            for member in archive:
                fh = archive.extractfile(member) if member.isfile() else None
                if fh is not None:
                    box.files[posixpath.join(path, member.name)] = fh.read()
        if self.on_put_archive is not None:
            self.on_put_archive(container_id)

    def start(self, container_id: str) -> None:
        self._get(container_id).status = "running"
        self.started.append(container_id)

    def wait(self, container_id: str, timeout: float | None = None) -> int:
        box = self._get(container_id)
        return box.exit_code if box.exit_code is not None else 0

    def stream_logs(
        self, container_id: str, *, since: float | None = None, follow: bool = True, cursor: object = None
    ) -> Iterator[tuple[StreamName, str]]:
        yield from list(self._get(container_id).logs)

    def state(self, container_id: str) -> ContainerState | None:
        box = self.containers.get(container_id)
        if box is None:
            return None
        return ContainerState(box.status, box.exit_code, None, None, oom_killed=False, error="")

    def stop(self, container_id: str, *, signal: str | None, timeout: float | None = None) -> StopResult:
        box = self._get(container_id)
        box.signals.append(signal)
        if box.status != "running":
            return StopResult("not_running", box.exit_code)
        box.status, box.exit_code = "exited", 137
        return StopResult("killed", 137)

    def environment(self, container_id: str) -> dict[str, str]:
        return dict(getattr(self._get(container_id), "env", {}) or {})

    def signal(self, container_id: str, signal: str) -> bool:
        box = self._get(container_id)
        box.signals.append(signal)
        return box.status == "running"

    def export(self, container_id: str, path: str) -> TarReader:
        box = self._get(container_id)
        top = posixpath.basename(path.rstrip("/"))
        found = {p: data for p, data in box.files.items() if p == path or p.startswith(path.rstrip("/") + "/")}
        if not found:
            raise PathNotFound(f"{path} does not exist in container {container_id[:12]}")
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            for p, data in sorted(found.items()):
                info = tarfile.TarInfo(posixpath.join(top, posixpath.relpath(p, path)) if p != path else top)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
        return TarReader([buffer.getvalue()])

    def find(self, labels: dict[str, str | None], *, sizes: bool = False) -> list[ContainerInfo]:
        return [
            ContainerInfo(cid, box.spec.name or cid, box.status, dict(box.spec.labels), box.spec.image, 0.0)
            for cid, box in reversed(self.containers.items())
            if all(box.spec.labels.get(k) == v for k, v in labels.items())
        ]

    def remove(self, container_id: str, force: bool = True) -> None:
        if self.containers.pop(container_id, None) is not None:
            self.removed.append(container_id)

    def create_volume(self, name: str, labels: dict[str, str]) -> str:
        self.volumes[name] = dict(labels)
        return name

    def list_volumes(self, labels: dict[str, str]) -> list[str]:
        return sorted(n for n, have in self.volumes.items() if all(have.get(k) == v for k, v in labels.items()))

    def close(self) -> None:
        self.closed = True


_: type[ContainerRuntime] = FakeRuntime  # mypy checks the fake keeps to the protocol
