"""An in-memory ``ContainerRuntime`` (``runtime/base.py``) for the job lifecycle: containers are dicts, the files
delivered with ``put_archive`` are kept and exported back as tar streams, volumes and images are names.

Tests drive it by hand: ``finish`` (the program exits having written files), ``vanish`` (someone removed the
container), ``unreachable`` (the engine stops answering: every call raises ``EngineUnreachable``), ``fail_next``
(one call of a method raises the given error), ``before`` (a hook run at the start of a method: another process
acting meanwhile; ``on_put_archive`` is the hook run after an archive is delivered). It keeps the protocol's
guarantees: failures are ``RuntimeFailure``s, a missing container is ``ContainerNotFound`` (``state`` returns None,
``remove`` does nothing), a missing path ``PathNotFound``. The real-engine tests (``test_service.py`` and the
Docker runtime tests) stay the proof that the Docker runtime behaves the same."""

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
from airflow_provider_dsjobs.runtime.errors import (
    ContainerNotFound,
    EngineUnreachable,
    PathNotFound,
    RuntimeFailure,
    VolumeInUse,
    WaitTimeout,
)
from airflow_provider_dsjobs.runtime.logs import StreamName
from airflow_provider_dsjobs.runtime.resources import EngineLoad
from airflow_provider_dsjobs.runtime.tarstream import TarReader
from airflow_provider_dsjobs.runtime.volumes import VolumeUsage


@dataclass
class FakeContainer:
    spec: ContainerSpec
    status: str = "created"
    exit_code: int | None = None
    oom_killed: bool = False
    files: dict[str, bytes] = field(default_factory=dict)  # absolute container path -> content
    logs: list[tuple[StreamName, str]] = field(default_factory=list)
    signals: list[str | None] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return dict(self.spec.env or {})


class FakeRuntime:
    """Implements ``runtime.base.ContainerRuntime`` in memory."""

    def __init__(self, engine_id: str = "FAKE:ENGINE") -> None:
        self.containers: dict[str, FakeContainer] = {}
        self.volumes: dict[str, dict[str, str]] = {}
        self.images: set[str] = set()
        self.removed: list[str] = []
        self.engine_id = engine_id
        self.started: list[str] = []
        self.closed = False
        self.unreachable = False
        self.on_put_archive: Callable[[str], None] | None = None
        #: Run at the start of a method (by name) with its first argument: another process acting meanwhile.
        self.before: dict[str, Callable[[str], None]] = {}
        self._failures: dict[str, list[BaseException]] = {}
        self._ids = itertools.count(1)

    # -- driving it from a test --------------------------------------------------------------------------------
    def finish(
        self, container_id: str, exit_code: int = 0, files: dict[str, bytes] | None = None, *, oom: bool = False
    ) -> None:
        """The program exits with ``exit_code`` having written ``files``."""
        box = self.containers[container_id]
        box.files.update(files or {})
        box.status, box.exit_code, box.oom_killed = "exited", exit_code, oom

    def say(self, container_id: str, line: str, stream: StreamName = "stdout") -> None:
        """The program writes ``line``."""
        self.containers[container_id].logs.append((stream, line))

    def vanish(self, container_id: str) -> None:
        """Someone else removed the container."""
        self.containers.pop(container_id, None)

    def fail_next(self, method: str, error: BaseException) -> None:
        """The next call of ``method`` raises ``error`` (queued: several calls fail one after the other)."""
        self._failures.setdefault(method, []).append(error)

    def _enter(self, method: str, arg: str = "") -> None:
        if self.unreachable:
            raise EngineUnreachable("the Docker engine at fake:// is not answering")
        hook = self.before.get(method)
        if hook is not None:
            hook(arg)
        queued = self._failures.get(method)
        if queued:
            raise queued.pop(0)

    def _get(self, container_id: str) -> FakeContainer:
        try:
            return self.containers[container_id]
        except KeyError:
            raise ContainerNotFound(f"container {container_id[:12]} does not exist") from None

    # -- the protocol ------------------------------------------------------------------------------------------
    def engine_info(self) -> EngineInfo:
        self._enter("engine_info")
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
        self._enter("engine_load")
        return EngineLoad()

    def stats(self, container_id: str) -> dict[str, Any] | None:
        self._enter("stats", container_id)
        return None

    def ensure_image(
        self, ref: str, *, username: str | None = None, password: str | None = None, policy: str = "if-missing"
    ) -> str:
        self._enter("ensure_image", ref)
        if policy == "never" and ref not in self.images:
            raise RuntimeFailure(f"image {ref} is not on the engine and the pull policy is never")
        self.images.add(ref)
        return f"sha256:{ref}"

    def image_env(self, ref: str) -> dict[str, str]:
        self._enter("image_env", ref)
        if ref not in self.images:
            raise RuntimeFailure(f"image {ref} is not on the engine")
        return {}

    def create(self, spec: ContainerSpec) -> str:
        self._enter("create", spec.name or "")
        container_id = f"c{next(self._ids):011d}"
        self.containers[container_id] = FakeContainer(spec)
        return container_id

    def put_archive(self, container_id: str, path: str, chunks: Iterable[bytes]) -> None:
        self._enter("put_archive", container_id)
        box = self._get(container_id)
        with tarfile.open(fileobj=io.BytesIO(b"".join(chunks)), mode="r:") as archive:
            for member in archive:
                fh = archive.extractfile(member) if member.isfile() else None
                if fh is not None:
                    box.files[posixpath.join(path, member.name)] = fh.read()
        if self.on_put_archive is not None:
            self.on_put_archive(container_id)

    def start(self, container_id: str) -> None:
        self._enter("start", container_id)
        self._get(container_id).status = "running"
        self.started.append(container_id)

    def wait(self, container_id: str, timeout: float | None = None) -> int:
        self._enter("wait", container_id)
        box = self._get(container_id)
        if box.status == "created":
            raise WaitTimeout(f"container {container_id[:12]} was never started")
        if box.exit_code is None:  # a program nobody finished by hand (a helper container) runs to exit 0
            box.status, box.exit_code = "exited", 0
        return box.exit_code

    def stream_logs(
        self, container_id: str, *, since: float | None = None, follow: bool = True, cursor: object = None
    ) -> Iterator[tuple[StreamName, str]]:
        self._enter("stream_logs", container_id)
        lines = list(self._get(container_id).logs)
        seen = getattr(cursor, "fake_seen", 0) if cursor is not None else 0
        if cursor is not None:
            cursor.fake_seen = len(lines)  # type: ignore[attr-defined]
        yield from lines[seen:]

    def state(self, container_id: str) -> ContainerState | None:
        self._enter("state", container_id)
        box = self.containers.get(container_id)
        if box is None:
            return None
        return ContainerState(box.status, box.exit_code, None, None, oom_killed=box.oom_killed, error="")

    def stop(self, container_id: str, *, signal: str | None, timeout: float | None = None) -> StopResult:
        self._enter("stop", container_id)
        box = self._get(container_id)
        box.signals.append(signal)
        if box.status != "running":
            return StopResult("not_running", box.exit_code)
        box.status, box.exit_code = "exited", 137
        return StopResult("killed", 137)

    def run_in(self, container_id: str, command: list[str]) -> tuple[int, str]:
        """Nothing runs in a fake container: every command fails (no lazy S3 mount is ever up here)."""
        self._enter("run_in", container_id)
        self._get(container_id)
        return 127, f"{command[0]}: not found"

    def environment(self, container_id: str) -> dict[str, str]:
        self._enter("environment", container_id)
        return self._get(container_id).env

    def signal(self, container_id: str, signal: str) -> bool:
        self._enter("signal", container_id)
        box = self._get(container_id)
        box.signals.append(signal)
        if box.status == "running" and signal == "SIGKILL":
            box.status, box.exit_code = "exited", 137
            return True
        return box.status == "running"

    def export(self, container_id: str, path: str) -> TarReader:
        self._enter("export", container_id)
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
        self._enter("find")
        return [
            ContainerInfo(cid, box.spec.name or cid, box.status, dict(box.spec.labels), box.spec.image, 0.0)
            for cid, box in reversed(self.containers.items())
            if all(k in box.spec.labels and (v is None or box.spec.labels[k] == v) for k, v in labels.items())
        ]

    def remove(self, container_id: str, force: bool = True) -> None:
        self._enter("remove", container_id)
        box = self.containers.get(container_id)
        if box is None:
            return
        if box.status == "running" and not force:
            raise RuntimeFailure(f"container {container_id[:12]} is running: stop it first")
        del self.containers[container_id]
        self.removed.append(container_id)

    def create_volume(self, name: str, labels: dict[str, str]) -> str:
        self._enter("create_volume", name)
        self.volumes[name] = dict(labels)
        return name

    def list_volumes(self, labels: dict[str, str]) -> list[str]:
        self._enter("list_volumes")
        return sorted(n for n, have in self.volumes.items() if all(have.get(k) == v for k, v in labels.items()))

    def volume_usage(self, labels: dict[str, str | None]) -> list[VolumeUsage]:
        self._enter("volume_usage")

        def held(name: str) -> tuple[str, ...]:
            return tuple(b.spec.name or c for c, b in self.containers.items() if name in b.spec.volumes)

        wanted = {
            n: have
            for n, have in self.volumes.items()
            if all(k in have and v in (None, have[k]) for k, v in labels.items())
        }
        return [VolumeUsage(n, dict(have), None, 0, held(n)) for n, have in sorted(wanted.items())]

    def remove_volume(self, name: str, force: bool = False) -> None:
        self._enter("remove_volume", name)
        if any(name in box.spec.volumes for box in self.containers.values()):
            raise VolumeInUse(f"volume {name} is in use by a container")
        self.volumes.pop(name, None)

    def close(self) -> None:
        self.closed = True


_: type[ContainerRuntime] = FakeRuntime  # mypy checks the fake keeps to the protocol
