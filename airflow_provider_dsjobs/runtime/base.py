"""The container-runtime interface: what the job core needs from an engine. ``containers.Runtime`` implements it
on a Docker engine; tests of the job lifecycle's failure branches pass a fake one to ``JobService``.

Guarantees every implementation keeps (the job core relies on them):

* a failure is a ``RuntimeFailure`` with a one-line message; a container that does not exist is
  ``ContainerNotFound`` (``state`` returns ``None`` instead, ``remove`` does nothing); a path missing in a
  container is ``PathNotFound`` from ``export``; an engine that does not answer (or stops answering mid-stream)
  is ``EngineUnreachable``: what it runs is then unknown, not failed;
* ``stream_logs`` yields ``(stream, line)`` from the container's first line (or ``since``); with ``follow`` it
  ends when the container stops;
* ``stop`` with a signal gives the program ``timeout`` seconds before SIGKILL; stopping a stopped container is a
  no-op.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from airflow_provider_dsjobs.runtime.logs import StreamName

if TYPE_CHECKING:
    from airflow_provider_dsjobs.runtime.containers import (
        ContainerInfo,
        ContainerSpec,
        ContainerState,
        StopResult,
    )
    from airflow_provider_dsjobs.runtime.engine import EngineInfo
    from airflow_provider_dsjobs.runtime.log_stream import LogCursor
    from airflow_provider_dsjobs.runtime.resources import EngineLoad
    from airflow_provider_dsjobs.runtime.tarstream import TarReader
    from airflow_provider_dsjobs.runtime.volumes import VolumeUsage


class ContainerRuntime(Protocol):
    """Job containers on one engine."""

    def engine_info(self) -> EngineInfo:
        """What the engine can give a job (CPUs, memory, GPUs): ``choose_instance_type`` reads it."""
        ...

    def engine_load(self) -> EngineLoad:
        """What the containers running on the engine hold (their limits): ``place_instance_types`` reads it."""
        ...

    def stats(self, container_id: str) -> dict[str, Any] | None:
        """One stats document of a running container (engine API shape), or ``None`` when it cannot say."""
        ...

    def ensure_image(
        self, ref: str, *, username: str | None = None, password: str | None = None, policy: str = "if-missing"
    ) -> str:
        """The image id of ``ref``, pulled (with the credentials) as the pull ``policy`` says
        (``settings.IMAGE_PULL_POLICIES``: ``always``, ``if-missing``, ``never``)."""
        ...

    def image_env(self, ref: str) -> dict[str, str]:
        """The ``ENV`` an image sets (``Config.Env`` of a local image; ``RuntimeFailure`` when it is not there)."""
        ...

    def create(self, spec: ContainerSpec) -> str:
        """Create (not start) the container; its id."""
        ...

    def put_archive(self, container_id: str, path: str, chunks: Iterable[bytes]) -> None:
        """Unpack a tar stream into ``path`` of the container, consuming ``chunks`` as they come."""
        ...

    def start(self, container_id: str) -> None: ...

    def wait(self, container_id: str, timeout: float | None = None) -> int:
        """Block until the container stops; its exit code (``WaitTimeout`` after ``timeout`` seconds)."""
        ...

    def stream_logs(
        self, container_id: str, *, since: float | None = None, follow: bool = True, cursor: LogCursor | None = None
    ) -> Iterator[tuple[StreamName, str]]:
        """``cursor``, kept across calls, makes each call yield only what earlier ones did not."""
        ...

    def run_in(self, container_id: str, command: list[str]) -> tuple[int, str]:
        """Run ``command`` (no shell) in the running container; its exit code and output (what a lazy S3 mount's
        helper has mounted: ``resources/s3_lazy.py``)."""
        ...

    def environment(self, container_id: str) -> dict[str, str]:
        """The container's environment variables (the trigger masks the secret ones in its log)."""
        ...

    def signal(self, container_id: str, signal: str) -> bool:
        """Send ``signal`` without waiting; False if the container is not running."""
        ...

    def state(self, container_id: str) -> ContainerState | None:
        """The container's state, or ``None`` if it does not exist."""
        ...

    def stop(self, container_id: str, *, signal: str | None, timeout: float | None = None) -> StopResult: ...

    def export(self, container_id: str, path: str) -> TarReader:
        """``path`` (file or directory) out of the container as a tar stream; the caller closes the reader."""
        ...

    def find(self, labels: dict[str, str | None], *, sizes: bool = False) -> list[ContainerInfo]:
        """Containers (running or not) carrying all of ``labels`` (``None``: any value), newest first; ``sizes``
        fills in ``size_rw``."""
        ...

    def remove(self, container_id: str, force: bool = True) -> None:
        """Remove the container (killing it if ``force``); a missing container is fine."""
        ...

    def create_volume(self, name: str, labels: dict[str, str]) -> str: ...

    def list_volumes(self, labels: dict[str, str]) -> list[str]: ...

    def volume_usage(self, labels: dict[str, str | None]) -> list[VolumeUsage]:
        """Volumes carrying all of ``labels`` (``None``: any value), with size, creation time and the containers
        that mount them (``runtime/volumes.py``): what ``gc`` weighs engine caches by."""
        ...

    def remove_volume(self, name: str, force: bool = False) -> None:
        """Remove a volume; a missing one is fine; ``VolumeInUse`` when a container mounts it."""
        ...

    def close(self) -> None:
        """Release the connection to the engine."""
        ...
