"""Containers for jobs: create, deliver files, start, stream logs, watch, stop gracefully, export, clean up.

This layer runs a :class:`ContainerSpec`; it knows nothing about ``config.yaml``. It works the same with a remote
engine: files go in with ``put_archive`` and come out with ``get_archive`` (never bind mounts from the submitting
machine), and logs are read from the engine's log store, so re-attaching after a crash, or reading a container that
already exited, returns every line from the first one.

Typical use by the orchestrator::

    rt = Runtime(engine)
    cid = rt.create(ContainerSpec(image, shell_command(script), env, labels, "/job", name=None, resources=choice,
                                  network=None, volumes={}, stop_signal="SIGTERM"))
    rt.put_archive(cid, "/", tar_stream(entries))
    rt.start(cid)
    for stream, line in rt.stream_logs(cid):   # ends when the container exits
        ...
    code = rt.wait(cid)
"""

from __future__ import annotations

import base64
import json
import logging
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal, NoReturn

import docker.errors
import requests
import urllib3.exceptions
from docker.types import DeviceRequest, Ulimit

from airflow_provider_dsjobs.runtime.engine import DockerEngine, EngineInfo, EngineSettings, connect_engine
from airflow_provider_dsjobs.runtime.errors import (
    ContainerNotFound,
    EngineUnreachable,
    PathNotFound,
    RuntimeFailure,
    VolumeInUse,
    WaitTimeout,
    reason_of,
)
from airflow_provider_dsjobs.runtime.images import ensure_image
from airflow_provider_dsjobs.runtime.limits import DEFAULT_PIDS_LIMIT
from airflow_provider_dsjobs.runtime.log_stream import LogCursor, cut_frames
from airflow_provider_dsjobs.runtime.logs import MAX_LINE, LineSplitter, StreamName
from airflow_provider_dsjobs.runtime.resources import EngineLoad, ResourceChoice, engine_load
from airflow_provider_dsjobs.runtime.tarstream import CHUNK_SIZE, TarReader
from airflow_provider_dsjobs.runtime.volumes import VolumeUsage, volume_usage

log = logging.getLogger(__name__)

#: Label on everything this runtime creates (containers and volumes).
MANAGED_LABEL = "dsjobs.managed"
#: Grace period when ``stop`` is given a signal but no timeout (Docker's own default).
DEFAULT_STOP_TIMEOUT = 10.0
#: How long ``stop`` waits for a container to be gone after SIGKILL.
KILL_WAIT = 30.0
#: Headers for raw streams read from the engine (archives, logs). requests would send ``Accept-Encoding: gzip,
#: deflate`` and the engine then gzips an archive on the fly (8x slower on a 2-core machine: 2.6 s instead of 0.4 s
#: for 128 MiB) only for us to gunzip it again; the docker SDK's own ``get_archive`` asks for identity too.
RAW_STREAM_HEADERS = {"Accept-Encoding": "identity"}
#: ``--security-opt`` of every container: no process in it gains privileges through setuid/setgid files or file
#: capabilities (``NoNewPrivs: 1`` in ``/proc/<pid>/status``).
HARDENING_SECURITY_OPT = ("no-new-privileges",)
#: ... and of a FUSE helper besides (``ContainerSpec.fuse``): Docker's default AppArmor profile forbids ``mount``.
FUSE_SECURITY_OPT = ("apparmor=unconfined",)
#: What an engine-host bind's path may hold: the engine parses ``host:container:mode,propagation``.
_HOST_PATH = re.compile(r"/[A-Za-z0-9._/-]*")
_PROPAGATIONS = ("rshared", "shared", "rslave", "slave", "rprivate", "private")


def _engine_binds(binds: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, str]]:
    """``ContainerSpec.engine_binds`` as the docker SDK's binds; a path the engine would parse wrong is refused."""
    found = {}
    for host, options in binds.items():
        bind, mode, propagation = options.get("bind", ""), options.get("mode", "ro"), options.get("propagation", "")
        if not _HOST_PATH.fullmatch(host) or "/../" in host + "/" or not _HOST_PATH.fullmatch(bind):
            raise RuntimeFailure(f"engine bind {host!r} -> {bind!r}: both must be absolute plain paths")
        if mode not in ("ro", "rw") or (propagation and propagation not in _PROPAGATIONS):
            raise RuntimeFailure(f"engine bind {host!r}: bad mode {mode!r} or propagation {propagation!r}")
        found[host] = {"bind": bind, "mode": mode, **({"propagation": propagation} if propagation else {})}
    return found


@dataclass(frozen=True)
class ContainerSpec:
    """Everything needed to create a job container.

    ``command`` should be :func:`~airflow_provider_dsjobs.runtime.shell.shell_command` of the job's script, with
    ``init=True`` so graceful-shutdown signals reach the program (see ``runtime/shell.py``); ``None`` runs the
    image's own CMD, and ``entrypoint`` (``None``: the image's own ENTRYPOINT) replaces the image's. ``volumes`` maps
    *named* volumes to ``{"bind": "/path/in/container", "mode": "rw"|"ro"}``; host paths are refused because the
    engine may be remote. ``stop_signal`` is what ``docker stop`` sends (set it to the graceful-shutdown signal).
    """

    image: str
    command: list[str] | None
    env: dict[str, str]
    labels: dict[str, str]
    working_dir: str
    name: str | None = None
    resources: ResourceChoice | None = None
    network: str | None = None
    volumes: dict[str, dict[str, str]] = field(default_factory=dict)
    stop_signal: str | None = None
    user: str | None = None
    init: bool = True
    entrypoint: list[str] | None = None
    #: ``--storage-opt`` (``{"size": "<bytes>"}`` caps the writable layer where the storage driver supports it)
    storage_opt: dict[str, str] | None = None
    #: ``--pids-limit``: processes and threads the container may hold at once (``0`` or less: no limit). Every
    #: container is also created with ``no-new-privileges`` (a setuid program cannot gain privileges).
    pids_limit: int = DEFAULT_PIDS_LIMIT
    #: Directories *of the engine's host* → ``{"bind": path, "mode": "ro"|"rw", "propagation": "rslave"|...}``:
    #: only for the lazy S3 mounts (``resources/s3_lazy.py``), whose mount root is a directory on the engine host
    #: by design (``DSJOBS_LAZY_MOUNT_ROOT``); everything else uses named volumes.
    engine_binds: dict[str, dict[str, str]] = field(default_factory=dict)
    #: A FUSE helper (``resources/s3_lazy.py``): ``/dev/fuse``, ``CAP_SYS_ADMIN`` and no AppArmor profile, which
    #: ``mount(2)`` needs. No job container ever gets it.
    fuse: bool = False

    def __repr__(self) -> str:  # env may hold secrets: show only the names
        return (
            f"ContainerSpec(image={self.image!r}, entrypoint={self.entrypoint!r}, command={self.command!r}, "
            f"env=<{', '.join(sorted(self.env))}>, "
            f"labels={self.labels!r}, working_dir={self.working_dir!r}, name={self.name!r}, "
            f"resources={self.resources!r}, network={self.network!r}, volumes={self.volumes!r}, "
            f"stop_signal={self.stop_signal!r}, user={self.user!r}, init={self.init!r}, "
            f"storage_opt={self.storage_opt!r}, pids_limit={self.pids_limit!r}, engine_binds={self.engine_binds!r}, "
            f"fuse={self.fuse!r})"
        )


@dataclass(frozen=True)
class ContainerState:
    """``status`` is Docker's: created, running, paused, restarting, removing, exited or dead.
    ``exit_code`` is set only once the container has run and stopped (exited/dead). Times are the engine's, in
    UTC; Docker stamps ``started_at`` a little late, so a run of a few milliseconds may show ``finished_at`` first."""

    status: str
    exit_code: int | None
    started_at: datetime | None
    finished_at: datetime | None
    oom_killed: bool
    error: str

    @property
    def finished(self) -> bool:
        return self.status in ("exited", "dead")


@dataclass(frozen=True)
class ContainerInfo:
    id: str
    name: str
    status: str
    labels: dict[str, str]
    image: str
    created: float
    #: Bytes in the container's writable layer (``find(..., sizes=True)`` only).
    size_rw: int | None = None


@dataclass(frozen=True)
class StopResult:
    """How a stop ended: ``"exited"`` (the program exited by itself after the signal), ``"killed"`` (SIGKILL, at once
    or after the timeout) or ``"not_running"`` (it had already stopped, or never started)."""

    outcome: Literal["exited", "killed", "not_running"]
    exit_code: int | None


def _parse_time(value: str | None) -> datetime | None:
    if not value or value.startswith("0001-01-01"):
        return None
    text = value.rstrip("Z")
    offset = ""
    for sign in ("+", "-"):
        at = text.rfind(sign)
        if at > 10:  # past the date's dashes
            text, offset = text[:at], text[at:]
            break
    if "." in text:
        head, frac = text.split(".", 1)
        text = f"{head}.{frac[:6]}"
    try:
        parsed = datetime.fromisoformat(text + (offset or "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(timezone.utc)


def _label_filters(labels: Mapping[str, str | None]) -> list[str]:
    return [f"{k}={v}" if v is not None else k for k, v in labels.items()]


#: How much of a logs response is read at once (HTTP chunks arrive one log message each; a read returns the chunk
#: as soon as it is there, never waiting for the block to fill, so a followed stream is not delayed).
_LOG_READ_SIZE = 64 * 1024


class Runtime:
    """Job containers on one Docker engine (the ``ContainerRuntime`` of ``runtime/base.py``)."""

    def __init__(self, engine: DockerEngine) -> None:
        self.engine = engine
        self.api = engine.api
        # The SDK's own streaming helpers (raw socket, socket timeout) are not in its type stubs.
        self._sdk: Any = engine.api

    @classmethod
    def connect(cls, settings: EngineSettings) -> Runtime:
        """A runtime on the engine ``settings`` name (``connect_engine``: pinged, or one ``RuntimeFailure``)."""
        return cls(connect_engine(settings))

    def engine_info(self) -> EngineInfo:
        return self.engine.info()

    def engine_load(self) -> EngineLoad:
        return engine_load(self.engine)

    def ensure_image(
        self, ref: str, *, username: str | None = None, password: str | None = None, policy: str = "if-missing"
    ) -> str:
        return ensure_image(self.engine, ref, username=username, password=password, policy=policy)

    def image_env(self, ref: str) -> dict[str, str]:
        try:
            config = self.api.inspect_image(ref).get("Config") or {}  # type: ignore[no-untyped-call]
        except docker.errors.DockerException as exc:
            raise RuntimeFailure(f"cannot inspect image {ref}: {reason_of(exc)}") from None
        pairs = (str(item).partition("=") for item in config.get("Env") or ())
        return {name: value for name, sep, value in pairs if sep}

    def close(self) -> None:
        self.engine.close()

    @contextmanager
    def _reaching_engine(self) -> Iterator[None]:
        """Inside the block, a connection that cannot be made (or breaks) is ``EngineUnreachable``: the docker
        SDK raises ``requests``' own errors for it, not a ``DockerException``."""
        try:
            yield
        except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            raise EngineUnreachable(f"lost the Docker engine at {self.engine.url}: {reason_of(exc)}") from None

    def _body(self, response: requests.Response) -> Iterator[bytes]:
        """A streamed response's body in chunks; a connection that breaks is ``EngineUnreachable``."""
        with self._reaching_engine():
            yield from response.iter_content(CHUNK_SIZE)

    # -- creating and starting -------------------------------------------------------------------------------
    def create(self, spec: ContainerSpec) -> str:
        """Create (not start) the container; returns its id. Labels always include ``dsjobs.managed=1``; the
        container always runs with ``no-new-privileges`` and ``spec.pids_limit``."""
        for volume, options in spec.volumes.items():
            if not volume or volume.startswith((".", "/", "~")) or "/" in volume or "\\" in volume:
                raise RuntimeFailure(
                    f"volume {volume!r} looks like a host path: only named volumes are supported, because the Docker "
                    "engine may run on another machine (files travel with put_archive instead)"
                )
            if not str(options.get("bind", "")).startswith("/"):
                raise RuntimeFailure(f"volume {volume!r} needs an absolute 'bind' path inside the container")
        binds: dict[str, Mapping[str, str]] = {
            k: {"bind": v["bind"], "mode": v.get("mode", "rw")} for k, v in spec.volumes.items()
        }
        binds.update(_engine_binds(spec.engine_binds))
        env = dict(spec.env)
        if spec.init:
            env.setdefault("TINI_KILL_PROCESS_GROUP", "1")
        resources = spec.resources
        try:
            host_config = self.api.create_host_config(
                binds=binds or None,
                nano_cpus=(resources.nano_cpus or None) if resources else None,
                mem_limit=(resources.mem_limit or None) if resources else None,
                device_requests=[DeviceRequest(**r) for r in resources.device_requests] or None if resources else None,
                shm_size=(resources.shm_size or None) if resources else None,
                ulimits=[Ulimit(**u) for u in resources.ulimits] or None if resources else None,
                network_mode=spec.network or None,
                init=spec.init or None,
                storage_opt=spec.storage_opt or None,
                security_opt=list(HARDENING_SECURITY_OPT) + (list(FUSE_SECURITY_OPT) if spec.fuse else []),
                pids_limit=spec.pids_limit if spec.pids_limit > 0 else -1,
                devices=["/dev/fuse:/dev/fuse:rwm"] if spec.fuse else None,
                cap_add=["SYS_ADMIN"] if spec.fuse else None,
            )
            created = self.api.create_container(
                image=spec.image,
                command=spec.command,
                entrypoint=spec.entrypoint,
                environment=env,
                labels={**spec.labels, MANAGED_LABEL: "1"},
                working_dir=spec.working_dir or None,
                name=spec.name,
                host_config=host_config,
                stop_signal=spec.stop_signal,
                user=spec.user,
                detach=True,
            )
        except docker.errors.ImageNotFound:
            raise RuntimeFailure(f"image {spec.image} is not on the Docker engine (ensure_image first)") from None
        except docker.errors.APIError as exc:
            if exc.status_code == 409:
                raise RuntimeFailure(f"a container named {spec.name} already exists on the Docker engine") from None
            raise RuntimeFailure(f"cannot create a container from {spec.image}: {reason_of(exc)}") from None
        except docker.errors.DockerException as exc:
            raise RuntimeFailure(f"cannot create a container from {spec.image}: {reason_of(exc)}") from None
        container_id = str(created["Id"])
        log.debug("created container %s from %s", container_id[:12], spec.image)
        return container_id

    def put_archive(self, container_id: str, path: str, chunks: Iterable[bytes]) -> None:
        """Unpack a tar stream into ``path`` (which must exist in the container; ``/`` always does). The chunks are
        sent as they are produced, so a large archive never sits in memory."""
        try:
            self.api.put_archive(container_id, path, iter(chunks))
        except RuntimeFailure:
            raise
        except docker.errors.NotFound as exc:
            self._raise_not_found(container_id, exc, f"cannot unpack files into {path}")
        except Exception as exc:  # transport errors while streaming
            raise RuntimeFailure(f"cannot copy files into container {container_id[:12]}: {reason_of(exc)}") from None

    def start(self, container_id: str) -> None:
        try:
            self.api.start(container_id)
        except docker.errors.NotFound as exc:
            self._raise_not_found(container_id, exc, "cannot start")
        except docker.errors.DockerException as exc:
            reason = reason_of(exc)
            if "docker-init" in reason:
                reason += " (the engine has no docker-init: create the container with init=False, see runtime/shell.py)"
            raise RuntimeFailure(f"cannot start container {container_id[:12]}: {reason}") from None

    # -- watching --------------------------------------------------------------------------------------------
    def stream_logs(
        self,
        container_id: str,
        *,
        since: float | None = None,
        follow: bool = True,
        max_line: int = MAX_LINE,
        cursor: LogCursor | None = None,
    ) -> Iterator[tuple[StreamName, str]]:
        """Yield ``("stdout"|"stderr", line)`` from the container's first line (or from ``since``, epoch seconds).

        With ``follow=True`` the iterator ends when the container stops; on a container that already exited it
        returns what was logged and ends. Lines carry no trailing newline; a final line without one is still
        yielded; invalid UTF-8 becomes U+FFFD; a line longer than ``max_line`` characters is yielded in parts.

        Docker 20.10 may end a follow stream just before it stores the container's last output (a final line
        without a newline is typically lost), and a connection may drop mid-run. So every frame is requested with
        its engine timestamp (stripped here, not returned), and when the stream ends the method resumes from the
        last timestamp seen, skipping frames already yielded: once more after the container has stopped, or again
        in follow mode while it still runs. A non-following read that breaks off is resumed the same way.

        A ``cursor`` (``LogCursor()``) kept by the caller across calls makes each call yield only what the previous
        ones did not (a poller reading new output with ``follow=False``; stop iterating at any point to bound one
        read, the next call resumes there).
        """
        try:
            with self._reaching_engine():
                tty = bool(self.api.inspect_container(container_id)["Config"].get("Tty"))
        except docker.errors.NotFound:
            raise ContainerNotFound(f"container {container_id[:12]} does not exist") from None
        except docker.errors.DockerException as exc:
            raise RuntimeFailure(f"cannot read logs of container {container_id[:12]}: {reason_of(exc)}") from None
        splitters: dict[StreamName, LineSplitter] = {"stdout": LineSplitter(max_line), "stderr": LineSplitter(max_line)}
        cursor = LogCursor() if cursor is None else cursor
        start_since = f"{since:.9f}" if since is not None and since > 0 else None
        following = follow
        reconnects = 0
        while True:
            progress = cursor.frames
            complete = False
            since_param = cursor.since_param() or start_since
            for stream_name, data in self._log_frames(container_id, follow=following, since=since_param, tty=tty):
                if not data:  # _log_frames' marker: the engine ended the response normally
                    complete = True
                    continue
                stream_name, payload = (stream_name, data) if tty else cursor.accept(stream_name, data)
                if payload:
                    for line in splitters[stream_name].feed(payload):
                        yield stream_name, line
            if tty:  # no timestamps to resume from
                break
            if following:
                state = self.state(container_id)
                if state is None or state.status == "created":  # gone, or never started: nothing more will come
                    break
                if state.finished:
                    following = False  # one last non-following read picks up output stored after the stream ended
                    continue
            elif complete:
                break
            # A follow stream ended while the container runs, or a non-following read was cut short: resume.
            reconnects = 0 if cursor.frames > progress else reconnects + 1
            if reconnects > 50:
                raise RuntimeFailure(f"log stream of container {container_id[:12]} keeps ending early")
            time.sleep(min(0.05 * reconnects, 1.0))
        for stream_name, splitter in splitters.items():
            for line in splitter.flush():
                yield stream_name, line

    def _log_frames(
        self, container_id: str, *, follow: bool, since: str | None, tty: bool
    ) -> Iterator[tuple[StreamName, bytes]]:
        """Raw ``(stream, payload)`` frames of one logs request (payloads start with a timestamp unless ``tty``),
        then ``("stdout", b"")`` if the engine ended the response normally (no real frame is empty)."""
        params: dict[str, Any] = {"stdout": 1, "stderr": 1, "follow": int(follow), "timestamps": int(not tty)}
        if since is not None:
            params["since"] = since
        try:
            with self._reaching_engine():
                response = self._sdk._get(
                    self._sdk._url("/containers/{0}/logs", container_id),
                    params=params,
                    headers=RAW_STREAM_HEADERS,
                    stream=True,
                )
            self._sdk._raise_for_status(response)
        except docker.errors.NotFound as exc:
            self._raise_not_found(container_id, exc, "cannot read logs")
        except docker.errors.DockerException as exc:
            raise RuntimeFailure(f"cannot read logs of container {container_id[:12]}: {reason_of(exc)}") from None
        try:
            if follow:  # a followed stream may be quiet for hours; a plain read keeps the API timeout per read
                self._sdk._disable_socket_timeout(self._sdk._get_raw_response_socket(response))
            raw = response.raw
            # The engine sends each log message as one HTTP chunk; stream() hands over each chunk as it arrives.
            # Without chunked encoding read1() likewise returns what is there instead of waiting for a full block.
            if raw.chunked:
                blocks: Iterator[bytes] = raw.stream(_LOG_READ_SIZE)
            else:
                blocks = iter(lambda: raw.read1(_LOG_READ_SIZE), b"")
            if tty:
                for data in blocks:
                    if data:
                        yield "stdout", data
                yield "stdout", b""  # the end marker
                return
            yield from cut_frames(blocks, f"log stream of container {container_id[:12]}")
        except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            log.info("log stream of container %s broke (%s); resuming", container_id[:12], reason_of(exc))
        finally:
            response.close()

    def stats(self, container_id: str) -> dict[str, Any] | None:
        """One stats document of a running container (the engine's ``one-shot`` read), or ``None`` when it is gone
        or the engine cannot say."""
        try:
            result: dict[str, Any] = self.api.stats(container_id, stream=False, one_shot=True)
        except docker.errors.DockerException:
            return None
        return result

    def state(self, container_id: str) -> ContainerState | None:
        """The container's state, or ``None`` if it does not exist."""
        try:
            with self._reaching_engine():
                raw = self.api.inspect_container(container_id)["State"]
        except docker.errors.NotFound:
            return None
        except docker.errors.DockerException as exc:
            raise RuntimeFailure(f"cannot inspect container {container_id[:12]}: {reason_of(exc)}") from None
        status = str(raw.get("Status") or "unknown")
        finished = status in ("exited", "dead")
        return ContainerState(
            status=status,
            exit_code=int(raw.get("ExitCode", 0)) if finished else None,
            started_at=_parse_time(raw.get("StartedAt")),
            finished_at=_parse_time(raw.get("FinishedAt")),
            oom_killed=bool(raw.get("OOMKilled")),
            error=str(raw.get("Error") or ""),
        )

    def wait(self, container_id: str, timeout: float | None = None) -> int:
        """Block until the container stops; its exit code. ``WaitTimeout`` after ``timeout`` seconds.
        (Docker answers at once for a container that was created but never started: check ``state`` first.)"""
        started = time.monotonic()
        try:
            result = self.api.wait(container_id, timeout=timeout)  # type: ignore[arg-type]
        except docker.errors.NotFound as exc:
            self._raise_not_found(container_id, exc, "cannot wait for")
        except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError) as exc:
            if timeout is not None and time.monotonic() - started >= timeout * 0.9:
                raise WaitTimeout(f"container {container_id[:12]} still running after {timeout:g}s") from None
            raise EngineUnreachable(
                f"lost the Docker engine at {self.engine.url} waiting for {container_id[:12]}: {reason_of(exc)}"
            ) from None
        except docker.errors.DockerException as exc:
            raise RuntimeFailure(f"cannot wait for container {container_id[:12]}: {reason_of(exc)}") from None
        return int(result.get("StatusCode", -1))

    # -- stopping --------------------------------------------------------------------------------------------
    def stop(self, container_id: str, *, signal: str | None, timeout: float | None = None) -> StopResult:
        """Graceful shutdown: send ``signal``, give the program ``timeout`` seconds (default 10) to exit, then
        SIGKILL. With no signal, SIGKILL at once. Stopping a stopped container is a no-op (``"not_running"``)."""
        state = self.state(container_id)
        if state is None:
            raise ContainerNotFound(f"container {container_id[:12]} does not exist")
        if state.status not in ("running", "paused", "restarting"):
            return StopResult("not_running", state.exit_code)
        if signal is not None:
            if not self._signal(container_id, signal):
                return StopResult("not_running", self._exit_code(container_id))
            grace = DEFAULT_STOP_TIMEOUT if timeout is None else max(timeout, 0.0)
            try:
                code = self.wait(container_id, timeout=grace) if grace > 0 else None
            except WaitTimeout:
                code = None
            if code is not None:
                return StopResult("exited", code)
            log.info("container %s did not exit %gs after %s; killing it", container_id[:12], grace, signal)
        if not self._signal(container_id, "SIGKILL"):
            return StopResult("exited" if signal else "not_running", self._exit_code(container_id))
        return StopResult("killed", self.wait(container_id, timeout=KILL_WAIT))

    def run_in(self, container_id: str, command: list[str]) -> tuple[int, str]:
        """Run ``command`` in the running container (as its user, no shell); its exit code and output."""
        try:
            with self._reaching_engine():
                exec_id = self.api.exec_create(container_id, command, stdout=True, stderr=True)["Id"]
                output = self.api.exec_start(exec_id)
                code = self.api.exec_inspect(exec_id).get("ExitCode")
        except docker.errors.NotFound as exc:
            self._raise_not_found(container_id, exc, f"cannot run {command[0]} in")
        except docker.errors.DockerException as exc:
            reason = reason_of(exc)
            raise RuntimeFailure(f"cannot run {command[0]} in container {container_id[:12]}: {reason}") from None
        text = output.decode("utf-8", "replace") if isinstance(output, bytes) else str(output)
        return (int(code) if code is not None else -1), text

    def environment(self, container_id: str) -> dict[str, str]:
        """The container's environment variables (``NAME -> value``)."""
        try:
            env = self.api.inspect_container(container_id)["Config"].get("Env") or []
        except docker.errors.NotFound as exc:
            self._raise_not_found(container_id, exc, "cannot inspect")
        except docker.errors.DockerException as exc:
            raise RuntimeFailure(f"cannot inspect container {container_id[:12]}: {reason_of(exc)}") from None
        return dict(item.split("=", 1) for item in env if "=" in item)

    def signal(self, container_id: str, signal: str) -> bool:
        """Send ``signal`` without waiting; False if the container is not running."""
        return self._signal(container_id, signal)

    def _signal(self, container_id: str, signal: str) -> bool:
        """Send a signal; False if the container is no longer running."""
        try:
            with self._reaching_engine():
                self.api.kill(container_id, signal=signal)
        except docker.errors.NotFound as exc:
            self._raise_not_found(container_id, exc, f"cannot send {signal} to")
        except docker.errors.APIError as exc:
            if exc.status_code == 409:  # "is not running": it exited between our look and the signal
                return False
            raise RuntimeFailure(f"cannot send {signal} to container {container_id[:12]}: {reason_of(exc)}") from None
        return True

    def _exit_code(self, container_id: str) -> int | None:
        state = self.state(container_id)
        return state.exit_code if state else None

    # -- getting files out -----------------------------------------------------------------------------------
    def export(self, container_id: str, path: str) -> TarReader:
        """Stream ``path`` (file or directory) out of the container as a tar archive, read with
        ``reader.open_tar()`` or ``extract_stream``. The archive's top entry is ``basename(path)``; the engine's
        stat of the path is in ``reader.stat``. Close the reader (or use it as a context manager)."""
        try:
            with self._reaching_engine():
                response = self._sdk._get(
                    self._sdk._url("/containers/{0}/archive", container_id),
                    params={"path": path},
                    headers=RAW_STREAM_HEADERS,
                    stream=True,
                )
            self._sdk._raise_for_status(response)
        except docker.errors.NotFound as exc:
            self._raise_not_found(container_id, exc, f"cannot export {path} from", path=path)
        except docker.errors.DockerException as exc:
            raise RuntimeFailure(f"cannot export {path} from container {container_id[:12]}: {reason_of(exc)}") from None
        self._sdk._disable_socket_timeout(self._sdk._get_raw_response_socket(response))
        reader = TarReader(self._body(response), on_close=response.close)
        header = response.headers.get("X-Docker-Container-Path-Stat")
        if header:
            try:
                reader.stat = json.loads(base64.b64decode(header))
            except ValueError:
                reader.stat = {}
        return reader

    # -- finding and cleaning up -----------------------------------------------------------------------------
    def find(self, labels: dict[str, str | None], *, sizes: bool = False) -> list[ContainerInfo]:
        """Containers (running or not) carrying all of ``labels`` (a ``None`` value: the label with any value),
        newest first; with ``sizes``, each with the size of its writable layer (the engine computes them)."""
        try:
            with self._reaching_engine():
                rows = self.api.containers(all=True, filters={"label": _label_filters(labels)}, size=sizes)
        except docker.errors.DockerException as exc:
            raise RuntimeFailure(f"cannot list containers: {reason_of(exc)}") from None
        found = [
            ContainerInfo(
                id=str(row["Id"]),
                name=str((row.get("Names") or ["/"])[0]).lstrip("/"),
                status=str(row.get("State") or ""),
                labels=dict(row.get("Labels") or {}),
                image=str(row.get("Image") or ""),
                created=float(row.get("Created") or 0),
                size_rw=int(row["SizeRw"]) if sizes and row.get("SizeRw") is not None else None,
            )
            for row in rows
        ]
        return sorted(found, key=lambda c: c.created, reverse=True)

    def remove(self, container_id: str, force: bool = True) -> None:
        """Remove the container (killing it if ``force``); a missing container is fine."""
        try:
            with self._reaching_engine():
                self.api.remove_container(container_id, force=force, v=False)
        except docker.errors.NotFound:
            return
        except docker.errors.APIError as exc:
            if exc.status_code == 409 and "already in progress" in reason_of(exc):
                return
            raise RuntimeFailure(f"cannot remove container {container_id[:12]}: {reason_of(exc)}") from None
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            raise RuntimeFailure(f"cannot remove container {container_id[:12]}: {reason_of(exc)}") from None

    def create_volume(self, name: str, labels: dict[str, str]) -> str:
        try:
            created = self.api.create_volume(name=name, labels={**labels, MANAGED_LABEL: "1"})
        except docker.errors.DockerException as exc:
            raise RuntimeFailure(f"cannot create volume {name}: {reason_of(exc)}") from None
        return str(created["Name"])

    def list_volumes(self, labels: dict[str, str]) -> list[str]:
        try:
            result = self.api.volumes(filters={"label": _label_filters(labels)})
        except docker.errors.DockerException as exc:
            raise RuntimeFailure(f"cannot list volumes: {reason_of(exc)}") from None
        return sorted(str(v["Name"]) for v in (result.get("Volumes") or []))

    def remove_volume(self, name: str, force: bool = False) -> None:
        """Remove a volume; a missing one is fine. A volume still used by a container is ``VolumeInUse``."""
        try:
            with self._reaching_engine():
                self.api.remove_volume(name, force=force)
        except docker.errors.NotFound:
            return
        except docker.errors.APIError as exc:
            if exc.status_code == 409:
                raise VolumeInUse(f"volume {name} is in use by a container: {reason_of(exc)}") from None
            raise RuntimeFailure(f"cannot remove volume {name}: {reason_of(exc)}") from None
        except docker.errors.DockerException as exc:
            raise RuntimeFailure(f"cannot remove volume {name}: {reason_of(exc)}") from None

    def volume_usage(self, labels: dict[str, str | None]) -> list[VolumeUsage]:
        """The volumes carrying all of ``labels`` (``None``: any value) with their size, creation time and the
        containers that mount them (``runtime/volumes.py``); the engine measures every volume, so it takes a while."""
        try:
            with self._reaching_engine():
                return volume_usage(self.api, labels, _parse_time)
        except docker.errors.DockerException as exc:
            raise RuntimeFailure(f"cannot list volumes: {reason_of(exc)}") from None

    # -- helpers ---------------------------------------------------------------------------------------------
    def _raise_not_found(self, container_id: str, exc: Exception, action: str, *, path: str | None = None) -> NoReturn:
        if self.state(container_id) is None:
            raise ContainerNotFound(f"container {container_id[:12]} does not exist") from None
        if path is not None:
            raise PathNotFound(f"{path} does not exist in container {container_id[:12]}") from None
        raise RuntimeFailure(f"{action} container {container_id[:12]}: {reason_of(exc)}") from None
