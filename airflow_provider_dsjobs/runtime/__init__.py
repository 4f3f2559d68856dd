"""The Docker runtime: containers, workspaces, logs, signals.

Modules, one concept each:

* ``engine``     — ``connect_engine(settings) -> DockerEngine`` (unix/tcp+TLS/ssh), ``DockerEngine.info()``
* ``images``     — ``ensure_image(engine, ref, username=, password=) -> image id`` (local, else pull)
* ``resources``  — ``place_instance_types(names, engine_info, engine_load(engine)) -> Placement`` (priority order
  against capacity and what runs there; caps only with a message)
* ``tarstream``  — ``tar_stream(entries)`` lazily, ``TarReader`` / ``extract_stream`` safely back
* ``logs``       — ``LineSplitter``: bytes → bounded, UTF-8-safe lines
* ``log_stream`` — the engine's log protocol: ``cut_frames`` (Docker's frames) and ``LogCursor`` (resuming)
* ``shell``      — ``shell_command(script)``: ``/bin/sh -c`` that lets graceful-shutdown signals reach the program
* ``base``       — ``ContainerRuntime``: the protocol the job core uses (``JobService(settings, runtime=...)``)
* ``containers`` — ``ContainerSpec`` and ``Runtime`` (``ContainerRuntime`` on Docker; ``Runtime.connect(settings)``):
  create, put_archive, start, stream_logs, state, wait, stop, export, find, remove, volumes
* ``volumes``    — cache kinds of named volumes (``dsjobs.cache``) and ``VolumeUsage`` (size, age, containers)
* ``errors``     — ``RuntimeFailure`` (one-line message) and its subclasses
"""

from airflow_provider_dsjobs.runtime.base import ContainerRuntime
from airflow_provider_dsjobs.runtime.containers import (
    MANAGED_LABEL,
    ContainerInfo,
    ContainerSpec,
    ContainerState,
    Runtime,
    StopResult,
)
from airflow_provider_dsjobs.runtime.engine import DockerEngine, EngineInfo, connect_engine
from airflow_provider_dsjobs.runtime.errors import ContainerNotFound, PathNotFound, RuntimeFailure, WaitTimeout
from airflow_provider_dsjobs.runtime.images import ensure_image
from airflow_provider_dsjobs.runtime.resources import ResourceChoice, choose_instance_type
from airflow_provider_dsjobs.runtime.shell import GRACEFUL_SIGNALS, shell_command
from airflow_provider_dsjobs.runtime.tarstream import (
    TarDir,
    TarFile,
    TarReader,
    directory_entries,
    extract_stream,
    tar_stream,
)

__all__ = [
    "GRACEFUL_SIGNALS",
    "MANAGED_LABEL",
    "ContainerInfo",
    "ContainerNotFound",
    "ContainerRuntime",
    "ContainerSpec",
    "ContainerState",
    "DockerEngine",
    "EngineInfo",
    "PathNotFound",
    "ResourceChoice",
    "Runtime",
    "RuntimeFailure",
    "StopResult",
    "TarDir",
    "TarFile",
    "TarReader",
    "WaitTimeout",
    "choose_instance_type",
    "connect_engine",
    "directory_entries",
    "ensure_image",
    "extract_stream",
    "shell_command",
    "tar_stream",
]
