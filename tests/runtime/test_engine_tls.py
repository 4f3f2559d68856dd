"""A tcp:// engine needs TLS: refused without it (unless explicitly allowed), reached with the files the settings
or the docker CLI's own variables (``DOCKER_TLS_VERIFY``, ``DOCKER_CERT_PATH``) name. The TLS engine is the real one
behind the deployment's TLS relay (``scripts/deployment/tls_relay.py``) with certificates from ``certs.sh``."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_dsjobs.runtime.engine import InsecureEngine, connect_engine
from airflow_provider_dsjobs.runtime.errors import RuntimeFailure
from airflow_provider_dsjobs.settings import Settings
from tests.faults import cuttable_proxy, docker_url

pytestmark = [pytest.mark.docker]

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts" / "deployment"


@pytest.fixture(autouse=True)
def _no_docker_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DSJOBS_DOCKER_URL"):
        monkeypatch.delenv(name, raising=False)
    for name in ("DSJOBS_DOCKER_ALLOW_INSECURE", "DSJOBS_DOCKER_TLS_CA_CERT"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture()
def listener() -> Iterator[socket.socket]:
    """A TCP port on loopback that counts who connects to it (nobody should)."""
    server = socket.create_server(("127.0.0.1", 0))
    server.setblocking(False)
    yield server
    server.close()


def _connected(server: socket.socket) -> bool:
    try:
        client, _ = server.accept()
    except BlockingIOError:
        return False
    client.close()
    return True


@pytest.mark.parametrize("scheme", ["tcp", "http"])
def test_a_tcp_engine_without_tls_is_refused_before_connecting(scheme: str, listener: socket.socket) -> None:
    url = f"{scheme}://127.0.0.1:{listener.getsockname()[1]}"
    with pytest.raises(InsecureEngine) as caught:
        connect_engine(Settings(docker_url=url), ping_timeout=3)
    message = str(caught.value)
    assert message.startswith(f"refusing the Docker engine at {url} without TLS: ")
    for hint in (
        "DSJOBS_DOCKER_TLS_CA_CERT",
        "DOCKER_TLS_VERIFY=1",
        "DOCKER_CERT_PATH",
        "DSJOBS_DOCKER_ALLOW_INSECURE=1",
    ):
        assert hint in message
    assert "\n" not in message and caught.value.__cause__ is None
    assert not _connected(listener)


def test_docker_host_without_tls_is_refused_too(monkeypatch: pytest.MonkeyPatch, listener: socket.socket) -> None:
    url = f"tcp://127.0.0.1:{listener.getsockname()[1]}"
    monkeypatch.setenv("DOCKER_HOST", url)
    for settings in (Settings(), Settings.from_env()):
        with pytest.raises(InsecureEngine, match=f"refusing the Docker engine at {url} without TLS"):
            connect_engine(settings, ping_timeout=3)
    # DOCKER_CERT_PATH alone does not turn TLS on, as for the docker CLI: DOCKER_TLS_VERIFY does.
    monkeypatch.setenv("DOCKER_CERT_PATH", "/nonexistent")
    with pytest.raises(InsecureEngine):
        connect_engine(Settings.from_env(), ping_timeout=3)
    assert not _connected(listener)


def test_the_explicit_opt_out_reaches_a_plain_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    with cuttable_proxy(docker_url()) as proxy:
        engine = connect_engine(Settings(docker_url=proxy.url, docker_allow_insecure=True))
        assert engine.info().server_version
        engine.close()
        monkeypatch.setenv("DSJOBS_DOCKER_URL", proxy.url)
        monkeypatch.setenv("DSJOBS_DOCKER_ALLOW_INSECURE", "1")
        with connect_engine(Settings.from_env()) as engine:
            assert engine.url == proxy.url and engine.info().server_version


def test_a_bad_opt_out_value_is_one_line() -> None:
    with pytest.raises(ValueError, match="DSJOBS_DOCKER_ALLOW_INSECURE must be 1 or 0"):
        Settings.from_env({"DSJOBS_DOCKER_ALLOW_INSECURE": "maybe"})


# -- a real TLS engine ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("docker-certs")
    subprocess.run(["bash", str(SCRIPTS / "certs.sh"), str(folder)], check=True, capture_output=True, timeout=120)
    return folder


@pytest.fixture(scope="module")
def tls_engine(certs: Path, docker_client: object) -> Iterator[str]:
    """``tcp://127.0.0.1:<port>``: the test engine behind a TLS relay that requires client certificates."""
    engine = docker_url()
    assert engine.startswith("unix://"), f"the TLS relay fronts a unix socket; the tests' engine is {engine}"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    argv = [sys.executable, str(SCRIPTS / "tls_relay.py"), "--listen", f"127.0.0.1:{port}"]
    argv += ["--socket", engine.removeprefix("unix://"), "--ca", str(certs / "ca.pem")]
    argv += ["--cert", str(certs / "server-cert.pem"), "--key", str(certs / "server-key.pem")]
    relay = subprocess.Popen(
        argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert relay.poll() is None and time.monotonic() < deadline, "the TLS relay did not start"
                time.sleep(0.1)
        yield f"tcp://127.0.0.1:{port}"
    finally:
        relay.terminate()
        relay.wait(timeout=10)


def test_docker_tls_verify_and_cert_path_reach_the_engine_as_the_docker_cli_does(
    tls_engine: str, certs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", tls_engine)
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    monkeypatch.setenv("DOCKER_CERT_PATH", str(certs))
    with connect_engine(Settings.from_env()) as engine:
        assert engine.url == tls_engine and engine.info().server_version


def test_settings_tls_files_reach_the_engine(tls_engine: str, certs: Path) -> None:
    settings = Settings(
        docker_url=tls_engine,
        docker_tls_ca_cert=str(certs / "ca.pem"),
        docker_tls_client_cert=str(certs / "cert.pem"),
        docker_tls_client_key=str(certs / "key.pem"),
    )
    with connect_engine(settings) as engine:
        assert engine.info().server_version


def test_a_cert_path_without_the_ca_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:2376")
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    monkeypatch.setenv("DOCKER_CERT_PATH", str(tmp_path))
    with pytest.raises(RuntimeFailure) as caught:
        connect_engine(Settings.from_env(), ping_timeout=3)
    assert (
        str(caught.value) == f"Docker TLS CA certificate {tmp_path / 'ca.pem'} does not exist (from DOCKER_CERT_PATH)"
    )


def test_tls_without_a_client_certificate_is_refused_by_the_engine(
    tls_engine: str, certs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "ca.pem").write_bytes((certs / "ca.pem").read_bytes())  # a cert path with the CA only
    monkeypatch.setenv("DOCKER_HOST", tls_engine)
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    monkeypatch.setenv("DOCKER_CERT_PATH", str(tmp_path))
    with pytest.raises(RuntimeFailure, match=f"cannot reach the Docker engine at {tls_engine}"):
        connect_engine(Settings.from_env(), ping_timeout=5)
