"""The Docker engine through the docker provider's ``DockerHook``, for a ``dsjobs`` connection with
``docker_conn_id``: the hook reads the ``docker`` connection (registry URL, login, password, ``reauth``,
``email``), pings the engine and logs it in to the registry, exactly as DockerOperator does; image pulls then
use that login. The engine URL and TLS files still come from the ``dsjobs`` settings, checked as
``connect_engine`` checks them (a ``tcp://`` engine without TLS is refused unless explicitly allowed)."""

from __future__ import annotations

from airflow_provider_dsjobs.runtime.containers import Runtime
from airflow_provider_dsjobs.runtime.engine import API_TIMEOUT, DockerEngine, engine_tls
from airflow_provider_dsjobs.runtime.errors import RuntimeFailure, reason_of
from airflow_provider_dsjobs.settings import Settings


def docker_hook_runtime(settings: Settings, docker_conn_id: str) -> Runtime:
    """The ``JobService`` runtime on an engine connected (pinged, logged in) by ``DockerHook(docker_conn_id)``;
    one ``RuntimeFailure`` line when that fails."""
    from airflow.providers.docker.hooks.docker import DockerHook

    url, tls = engine_tls(settings)
    hook = DockerHook(
        docker_conn_id=docker_conn_id, base_url=url, version="auto", tls=tls or False, timeout=int(API_TIMEOUT)
    )
    try:
        api = hook.get_conn()
    except Exception as exc:  # AirflowException (unreachable), APIError (login refused), a missing field
        raise RuntimeFailure(
            f"cannot use the Docker engine at {url} with docker connection {docker_conn_id!r}: {reason_of(exc)}"
        ) from None
    return Runtime(DockerEngine(api, url))
