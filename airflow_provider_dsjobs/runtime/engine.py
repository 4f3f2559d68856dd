"""Connecting to a Docker engine: the local socket, ``tcp://`` (with TLS) or ``ssh://``.

``connect_engine(settings)`` returns a :class:`DockerEngine` that has answered a ping, or raises one
:class:`RuntimeFailure` line such as ``cannot reach the Docker engine at unix:///var/run/docker.sock: No such file or
directory (start dockerd or set DSJOBS_DOCKER_URL)``.

A ``tcp://`` (or ``http://``) engine without TLS is refused (:class:`InsecureEngine`) unless the settings allow it
explicitly (``DSJOBS_DOCKER_ALLOW_INSECURE=1``): whoever reaches that port runs containers as root on the engine's
machine. TLS files come from the settings (``DSJOBS_DOCKER_TLS_*``, the connection's ``docker_tls_*`` extras), else
from the environment as the docker CLI reads it: ``DOCKER_TLS_VERIFY`` (any non-empty value) with ``ca.pem``,
``cert.pem`` and ``key.pem`` in ``DOCKER_CERT_PATH`` (default ``~/.docker``).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import docker
import docker.errors
import docker.tls

from airflow_provider_dsjobs.runtime.errors import EngineUnreachable, RuntimeFailure, reason_of

#: How long a ping (and the API version negotiation) may take before the engine counts as unreachable.
PING_TIMEOUT = 10.0
#: Timeout of ordinary API calls afterwards; log and archive streams disable it on their own sockets.
API_TIMEOUT = 120.0
DEFAULT_LOCAL_URL = "unix:///var/run/docker.sock"
_HINT = "(start dockerd or set DSJOBS_DOCKER_URL)"
_SCHEMES = ("unix", "tcp", "http", "https", "ssh", "npipe")
#: Schemes that carry the Docker API in the clear unless TLS files are given.
_PLAIN_SCHEMES = ("tcp", "http")
_INSECURE_HOWTO = (
    "give TLS files (DSJOBS_DOCKER_TLS_CA_CERT, DSJOBS_DOCKER_TLS_CLIENT_CERT and DSJOBS_DOCKER_TLS_CLIENT_KEY, or the "
    "connection's docker_tls_* extras; or DOCKER_TLS_VERIFY=1 with ca.pem, cert.pem and key.pem in DOCKER_CERT_PATH) "
    "or allow it explicitly with DSJOBS_DOCKER_ALLOW_INSECURE=1 (connection extra docker_allow_insecure: true)"
)


class EngineSettings(Protocol):
    """What connecting to an engine reads of the settings (``settings.Settings`` has all of it)."""

    @property
    def docker_url(self) -> str | None: ...

    @property
    def docker_tls_ca_cert(self) -> str | None: ...

    @property
    def docker_tls_client_cert(self) -> str | None: ...

    @property
    def docker_tls_client_key(self) -> str | None: ...

    @property
    def docker_tls_verify(self) -> bool: ...

    @property
    def docker_allow_insecure(self) -> bool: ...


class InsecureEngine(RuntimeFailure):
    """A ``tcp://`` engine URL without TLS, not explicitly allowed: a configuration error, raised before any
    connection is made."""


@dataclass(frozen=True)
class EngineInfo:
    """What the engine can give a job."""

    cpus: int
    memory_bytes: int
    gpu_support: bool
    runtimes: tuple[str, ...]
    server_version: str
    #: The storage driver (``overlay2``, ``btrfs``, ...) and its ``docker info`` status pairs ("Backing Filesystem").
    storage_driver: str = ""
    driver_status: tuple[tuple[str, str], ...] = ()
    #: GPU models the engine says it has (daemon label ``dsjobs.gpu-models=A100,T4``); () when it does not say
    gpu_models: tuple[str, ...] = ()
    #: The engine's own ID (stable across restarts: what a job record names its engine by) and its host name.
    engine_id: str = ""
    name: str = ""


class DockerEngine:
    """A reachable Docker engine. ``api`` is the docker SDK's low-level client (used for streaming)."""

    def __init__(self, api: docker.APIClient, url: str) -> None:
        self.api = api
        self.url = url

    def __repr__(self) -> str:
        return f"DockerEngine({self.url!r})"

    def info(self) -> EngineInfo:
        try:
            raw: dict[str, Any] = self.api.info()
        except docker.errors.DockerException as exc:
            raise RuntimeFailure(f"cannot query the Docker engine at {self.url}: {reason_of(exc)}") from None
        runtimes = tuple(sorted((raw.get("Runtimes") or {}).keys()))
        gpu = "nvidia" in runtimes or raw.get("DefaultRuntime") == "nvidia"
        return EngineInfo(
            cpus=int(raw.get("NCPU") or 0),
            memory_bytes=int(raw.get("MemTotal") or 0),
            gpu_support=gpu,
            runtimes=runtimes,
            server_version=str(raw.get("ServerVersion") or ""),
            storage_driver=str(raw.get("Driver") or ""),
            driver_status=tuple(
                (str(pair[0]), str(pair[1])) for pair in raw.get("DriverStatus") or () if len(pair) == 2
            ),
            gpu_models=_gpu_models(raw.get("Labels") or ()),
            engine_id=str(raw.get("ID") or ""),
            name=str(raw.get("Name") or ""),
        )

    def close(self) -> None:
        self.api.close()

    def __enter__(self) -> DockerEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: The daemon label (``dockerd --label dsjobs.gpu-models=A100,A100``) by which an engine says which GPUs it has.
GPU_MODELS_LABEL = "dsjobs.gpu-models"


def _gpu_models(labels: Any) -> tuple[str, ...]:
    for label in labels if isinstance(labels, (list, tuple)) else ():
        name, sep, value = str(label).partition("=")
        if sep and name == GPU_MODELS_LABEL:
            return tuple(dict.fromkeys(m.strip() for m in value.split(",") if m.strip()))
    return ()


class _APIClient(docker.APIClient):
    """The SDK's client, except that a CA certificate from the settings is what verifies the engine.

    requests lets ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` replace a session's own ``verify`` on every request,
    so on a machine that sets them (most CI images do) the engine's certificate would be checked against the
    system bundle and fail: "self-signed certificate in certificate chain"."""

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> Any:
        merged = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if isinstance(self.verify, str) and verify is None:
            merged["verify"] = self.verify
        return merged


@dataclass(frozen=True)
class TlsFiles:
    """What a TLS connection to the engine uses, and where it came from (for error messages)."""

    ca_cert: str | None
    client_cert: str | None
    client_key: str | None
    verify: bool
    source: str


def tls_files(settings: EngineSettings, env: Mapping[str, str] | None = None) -> TlsFiles | None:
    """The TLS files the settings name (``DSJOBS_DOCKER_TLS_*``); else, as the docker CLI reads the environment,
    ``DOCKER_TLS_VERIFY`` (set and not empty: TLS, verified) with ``ca.pem`` and, when present, ``cert.pem`` and
    ``key.pem`` in ``DOCKER_CERT_PATH`` (default ``~/.docker``); ``None`` when neither gives TLS."""
    cert, key, ca = settings.docker_tls_client_cert, settings.docker_tls_client_key, settings.docker_tls_ca_cert
    if cert or key or ca:
        return TlsFiles(ca, cert, key, settings.docker_tls_verify, "DSJOBS_DOCKER_TLS_*")
    e = os.environ if env is None else env
    if not e.get("DOCKER_TLS_VERIFY"):
        return None
    folder = Path(e.get("DOCKER_CERT_PATH") or Path.home() / ".docker")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    return TlsFiles(
        str(folder / "ca.pem"),
        str(cert_file) if cert_file.is_file() else None,
        str(key_file) if key_file.is_file() else None,
        True,
        "DOCKER_CERT_PATH",
    )


def _tls_config(files: TlsFiles) -> docker.tls.TLSConfig:
    cert, key, ca = files.client_cert, files.client_key, files.ca_cert
    if bool(cert) != bool(key):
        raise RuntimeFailure(
            "Docker TLS needs both a client certificate and a client key "
            "(DSJOBS_DOCKER_TLS_CLIENT_CERT and DSJOBS_DOCKER_TLS_CLIENT_KEY)"
        )
    for label, path in (("CA certificate", ca), ("client certificate", cert), ("client key", key)):
        if path and not os.path.isfile(path):
            raise RuntimeFailure(f"Docker TLS {label} {path} does not exist (from {files.source})")
    try:
        return docker.tls.TLSConfig(
            client_cert=(cert, key) if cert and key else None,
            ca_cert=ca or None,
            verify=(ca or True) if files.verify else False,
        )
    except docker.errors.DockerException as exc:
        raise RuntimeFailure(f"invalid Docker TLS settings: {reason_of(exc)}") from None


def engine_url(settings: EngineSettings) -> str:
    """The engine's URL: ``settings.docker_url``, else ``DOCKER_HOST``, else the local socket."""
    return settings.docker_url or os.environ.get("DOCKER_HOST") or DEFAULT_LOCAL_URL


def engine_tls(settings: EngineSettings) -> tuple[str, docker.tls.TLSConfig | None]:
    """The engine's URL and its TLS configuration (``None``: no TLS), checked before any connection: a URL of
    another scheme, TLS files that do not exist, or a ``tcp://`` URL without TLS that the settings do not allow
    (``InsecureEngine``) raise one ``RuntimeFailure`` line."""
    url = engine_url(settings)
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme not in _SCHEMES:
        raise RuntimeFailure(
            f"invalid Docker engine URL {url!r}: expected unix:///path, tcp://host:port or ssh://user@host {_HINT}"
        )
    if scheme not in ("tcp", "https", "http"):
        return url, None
    files = tls_files(settings)
    if files is not None:
        return url, _tls_config(files)
    if scheme in _PLAIN_SCHEMES and not settings.docker_allow_insecure:
        raise InsecureEngine(
            f"refusing the Docker engine at {url} without TLS: anyone who reaches it can run containers as root "
            f"there; {_INSECURE_HOWTO}"
        )
    return url, None


def connect_engine(settings: EngineSettings, *, ping_timeout: float = PING_TIMEOUT) -> DockerEngine:
    """Connect to ``settings.docker_url`` (else ``DOCKER_HOST``, else the local socket) and ping the engine."""
    url, tls = engine_tls(settings)
    scheme = url.split("://", 1)[0]
    kwargs: dict[str, Any] = {}
    if scheme == "ssh" and importlib.util.find_spec("paramiko") is None:
        kwargs["use_ssh_client"] = True  # the system ssh client, since paramiko is not installed
    api: _APIClient | None = None
    try:
        # version="auto" asks the engine for its API version: this is the first round trip, bounded by ping_timeout.
        api = _APIClient(base_url=url, version="auto", timeout=int(ping_timeout) or 1, tls=tls or False, **kwargs)
        api.ping()
    except Exception as exc:  # the SDK raises DockerException, requests errors or OSError depending on transport
        if api is not None:
            api.close()
        raise EngineUnreachable(f"cannot reach the Docker engine at {url}: {reason_of(exc)} {_HINT}") from None
    api.timeout = int(API_TIMEOUT)
    return DockerEngine(api, url)
