"""The engine's TLS listener: reached with the harness's certificates (as the connection gives them), refused
without a client certificate."""

from __future__ import annotations

import dataclasses

import pytest

from airflow_provider_dsjobs.runtime.engine import connect_engine
from airflow_provider_dsjobs.runtime.errors import RuntimeFailure
from tests.deployment.harness import Deployment

pytestmark = pytest.mark.deployment


def test_connection_settings_reach_the_engine_over_tls_despite_a_system_ca_bundle(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A CA bundle in the environment (most CI images set one) must not replace the connection's CA certificate.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    engine = connect_engine(deployment.settings())
    try:
        assert engine.url == deployment.docker_url
    finally:
        engine.close()
    assert deployment.docker.version()["Version"]


def test_engine_refuses_a_client_without_certificate(deployment: Deployment) -> None:
    settings = dataclasses.replace(deployment.settings(), docker_tls_client_cert=None, docker_tls_client_key=None)
    with pytest.raises(RuntimeFailure, match="cannot reach the Docker engine"):
        connect_engine(settings, ping_timeout=5).close()
