"""Connecting to the engine: a working local engine, and one clear line for every way it can fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_dsjobs.runtime.engine import DockerEngine, connect_engine
from airflow_provider_dsjobs.runtime.errors import RuntimeFailure
from airflow_provider_dsjobs.settings import Settings


def test_info_reports_engine_capacity(engine: DockerEngine, docker_client: object) -> None:
    info = engine.info()
    raw = docker_client.info()  # type: ignore[attr-defined]
    assert info.cpus == raw["NCPU"] and info.cpus >= 1
    assert info.memory_bytes == raw["MemTotal"] and info.memory_bytes > 0
    assert info.gpu_support == ("nvidia" in raw.get("Runtimes", {}))
    assert info.server_version == raw["ServerVersion"]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("unix:///nonexistent/docker.sock", "No such file or directory"),
        ("tcp://127.0.0.1:1", "Connection refused"),
    ],
)
def test_unreachable_engine_is_one_line(url: str, reason: str) -> None:
    with pytest.raises(RuntimeFailure) as caught:
        connect_engine(Settings(docker_url=url, docker_allow_insecure=True), ping_timeout=3)
    message = str(caught.value)
    assert message == f"cannot reach the Docker engine at {url}: {reason} (start dockerd or set DSJOBS_DOCKER_URL)"
    assert "\n" not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_nonsense_url_is_rejected_before_connecting() -> None:
    with pytest.raises(RuntimeFailure, match=r"invalid Docker engine URL 'ftp://host': expected unix:///path"):
        connect_engine(Settings(docker_url="ftp://host"))


def test_tls_files_must_exist(tmp_path: Path) -> None:
    missing = tmp_path / "ca.pem"
    settings = Settings(docker_url="tcp://127.0.0.1:2376", docker_tls_ca_cert=str(missing))
    with pytest.raises(RuntimeFailure, match=f"Docker TLS CA certificate {missing} does not exist"):
        connect_engine(settings)


def test_tls_needs_cert_and_key_together(tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("x")
    settings = Settings(docker_url="tcp://127.0.0.1:2376", docker_tls_client_cert=str(cert))
    with pytest.raises(RuntimeFailure, match="needs both a client certificate and a client key"):
        connect_engine(settings)


def test_docker_host_is_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/from-docker-host.sock")
    with pytest.raises(RuntimeFailure, match=r"from-docker-host\.sock"):
        connect_engine(Settings(docker_url=None), ping_timeout=3)
