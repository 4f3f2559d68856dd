"""The Docker engine through the docker provider's ``DockerHook``, for a ``dsjobs`` connection with
``docker_conn_id``: the hook reads the ``docker`` connection (registry URL, login, password, ``reauth``,
``email``), pings the engine and logs it in to the registry, exactly as DockerOperator does; image pulls then
use that login. The engine URL and TLS files still come from the ``dsjobs`` settings."""

from __future__ import annotations

import os

from airflow_provider_dsjobs.runtime.containers import Runtime
from airflow_provider_dsjobs.runtime.engine import API_TIMEOUT, DEFAULT_LOCAL_URL, DockerEngine
from airflow_provider_dsjobs.runtime.errors import RuntimeFailure, reason_of
from airflow_provider_dsjobs.settings import Settings


def docker_hook_runtime(settings: Settings, docker_conn_id: str) -> Runtime:
    """The ``JobService`` runtime on an engine connected (pinged, logged in) by ``DockerHook(docker_conn_id)``;
    one ``RuntimeFailure`` line when that fails."""
    from airflow.providers.docker.hooks.docker import DockerHook

    url = settings.docker_url or os.environ.get("DOCKER_HOST") or DEFAULT_LOCAL_URL
    tls = DockerHook.construct_tls_config(
        ca_cert=settings.docker_tls_ca_cert,
        client_cert=settings.docker_tls_client_cert,
        client_key=settings.docker_tls_client_key,
        verify=settings.docker_tls_verify,
    )
    hook = DockerHook(docker_conn_id=docker_conn_id, base_url=url, version="auto", tls=tls, timeout=int(API_TIMEOUT))
    try:
        api = hook.get_conn()
    except Exception as exc:  # AirflowException (unreachable), APIError (login refused), a missing field
        raise RuntimeFailure(
            f"cannot use the Docker engine at {url} with docker connection {docker_conn_id!r}: {reason_of(exc)}"
        ) from None
    return Runtime(DockerEngine(api, url))
