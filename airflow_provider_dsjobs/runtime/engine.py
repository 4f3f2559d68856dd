"""Connecting to a Docker engine: the local socket, ``tcp://`` (with TLS) or ``ssh://``.

``connect_engine(settings)`` returns a :class:`DockerEngine` that has answered a ping, or raises one
:class:`RuntimeFailure` line such as ``cannot reach the Docker engine at unix:///var/run/docker.sock: No such file or
directory (start dockerd or set DSJOBS_DOCKER_URL)``.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors
import docker.tls

from airflow_provider_dsjobs.runtime.errors import EngineUnreachable, RuntimeFailure, reason_of
from airflow_provider_dsjobs.settings import Settings

#: How long a ping (and the API version negotiation) may take before the engine counts as unreachable.
PING_TIMEOUT = 10.0
#: Timeout of ordinary API calls afterwards; log and archive streams disable it on their own sockets.
API_TIMEOUT = 120.0
DEFAULT_LOCAL_URL = "unix:///var/run/docker.sock"
_HINT = "(start dockerd or set DSJOBS_DOCKER_URL)"


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
            engine_id=str(raw.get("ID") or ""),
            name=str(raw.get("Name") or ""),
        )

    def close(self) -> None:
        self.api.close()

    def __enter__(self) -> DockerEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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


def _tls_config(settings: Settings) -> docker.tls.TLSConfig | None:
    cert, key, ca = settings.docker_tls_client_cert, settings.docker_tls_client_key, settings.docker_tls_ca_cert
    if not (cert or key or ca):
        return None
    if bool(cert) != bool(key):
        raise RuntimeFailure(
            "Docker TLS needs both a client certificate and a client key "
            "(DSJOBS_DOCKER_TLS_CLIENT_CERT and DSJOBS_DOCKER_TLS_CLIENT_KEY)"
        )
    for label, path in (("CA certificate", ca), ("client certificate", cert), ("client key", key)):
        if path and not os.path.isfile(path):
            raise RuntimeFailure(f"Docker TLS {label} {path} does not exist")
    try:
        return docker.tls.TLSConfig(
            client_cert=(cert, key) if cert and key else None,
            ca_cert=ca or None,
            verify=(ca or True) if settings.docker_tls_verify else False,
        )
    except docker.errors.DockerException as exc:
        raise RuntimeFailure(f"invalid Docker TLS settings: {reason_of(exc)}") from None


def connect_engine(settings: Settings, *, ping_timeout: float = PING_TIMEOUT) -> DockerEngine:
    """Connect to ``settings.docker_url`` (else ``DOCKER_HOST``, else the local socket) and ping the engine."""
    url = settings.docker_url or os.environ.get("DOCKER_HOST") or DEFAULT_LOCAL_URL
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme not in ("unix", "tcp", "http", "https", "ssh", "npipe"):
        raise RuntimeFailure(
            f"invalid Docker engine URL {url!r}: expected unix:///path, tcp://host:port or ssh://user@host {_HINT}"
        )
    tls = _tls_config(settings) if scheme in ("tcp", "https") else None
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
