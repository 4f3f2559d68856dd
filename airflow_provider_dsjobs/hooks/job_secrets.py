"""Which values are secret for one job: what a log read outside the task (the Jobs page and its API) must mask.

The task log masks what the worker registered with Airflow's secret masker while it planned the job; this module
finds the same values again from the job's record and its connection's settings, resolved the way the worker
resolved them:

- every project secret (the ``dsjobs_project_secrets_<project>`` Variable, or the loader the settings name);
- the connection's own secrets: ``LAB_API_TOKEN`` (``lab_api_token``), the registry password, the store's keys;
- every ``secret-id`` the record's config names: ``env.docker.password``, a registered project image's
  password, the S3 connectors of its ``s3-mounts`` and the Spark connector's token;
- while the job's container exists, the values of its secret-looking env vars (Airflow's masker rule,
  ``hooks.secret_names``, the one the triggerer uses) and of the project secrets' names: literal secret
  values are ``***`` in the record and ``- NAME`` values were never stored, so the container is the only
  place left that holds them.

A secret that cannot be looked up now (a deleted Variable) is simply not known; a secrets source that fails
raises, so a caller can refuse to show a log rather than show it unmasked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from airflow_provider_dsjobs.config.redact import REDACTED
from airflow_provider_dsjobs.documents.record import JobRecord
from airflow_provider_dsjobs.hooks.secret_names import is_secret_env_name
from airflow_provider_dsjobs.resources.images import ImageRegistry
from airflow_provider_dsjobs.resources.s3_connectors import ConnectorRegistry
from airflow_provider_dsjobs.resources.secrets import SecretsError
from airflow_provider_dsjobs.resources.spark import SparkRegistry
from airflow_provider_dsjobs.settings import Settings
from airflow_provider_dsjobs.storage.base import ObjectStore

_SETTINGS_SECRETS = ("lab_api_token", "registry_password", "aws_secret_access_key", "aws_session_token")


def connection_secrets(settings: Settings) -> set[str]:
    """The secrets every job of a connection may see or print: the project's secrets and the connection's own."""
    values = {v for v in settings.project_secrets(settings).values() if v}
    values.update(v for name in _SETTINGS_SECRETS if (v := getattr(settings, name)))
    return values


def job_secrets(
    settings: Settings,
    record: JobRecord,
    store: ObjectStore | None = None,
    environment: Mapping[str, str] | None = None,
) -> set[str]:
    """Every secret value job ``record`` was given (``store``: the project's registries; ``environment``: its
    container's env while it exists)."""
    values = connection_secrets(settings)
    for secret_id in _secret_ids(record, settings, store):
        found = _in_scope(settings, secret_id)
        if found:
            values.add(found)
    values.update(_connector_secrets(record, settings, store))
    if environment:
        project_names = set(settings.project_secrets(settings))
        values.update(
            value
            for name, value in environment.items()
            if value and value != REDACTED and (name in project_names or is_secret_env_name(name))
        )
    return values


def _in_scope(settings: Settings, secret_id: str) -> str | None:
    """``secret_id``'s value; None for one out of the deployment's scope: the worker refused it, so no job got it."""
    try:
        return settings.resolve_secret(secret_id)
    except SecretsError:
        return None


def _config_part(record: JobRecord, *keys: str) -> Any:
    part: Any = record.config if record.kind == "config" else {}
    for key in keys:
        part = part.get(key) if isinstance(part, Mapping) else None
    return part


def _ids(values: Iterable[Any]) -> list[str]:
    return [v for v in values if isinstance(v, str) and v]


def _secret_ids(record: JobRecord, settings: Settings, store: ObjectStore | None) -> list[str]:
    docker = _config_part(record, "env", "docker")
    if not isinstance(docker, Mapping):
        return []
    password = docker.get("password")
    ids = _ids([password.get("secret-id")] if isinstance(password, Mapping) else [])
    image = docker.get("image")
    if store is not None and isinstance(image, str):
        registered = _quietly(lambda: ImageRegistry(store, record.project).resolve(image))
        if registered is not None:
            ids += _ids([registered.password_secret_id])
    return ids


def _connector_secrets(record: JobRecord, settings: Settings, store: ObjectStore | None) -> set[str]:
    mounts = _config_part(record, "s3-mounts")
    mount_ids = _ids(m.get("id") for m in mounts if isinstance(m, Mapping)) if isinstance(mounts, list) else []
    values: set[str] = set()
    for mount_id in mount_ids:
        values.update(_s3_connector_secrets(record, settings, store, mount_id))
    spark_id = _config_part(record, "spark", "connector")
    if isinstance(spark_id, str) and spark_id:
        values.update(_spark_secrets(record, settings, store, spark_id))
    return values


def _s3_connector_secrets(record: JobRecord, settings: Settings, store: ObjectStore | None, mount_id: str) -> list[str]:
    resolver = settings.s3_connector_resolver
    source = _quietly(lambda: resolver(mount_id)) if resolver else None
    if source is not None:
        return _ids(source.secret_values())
    connector = _quietly(lambda: ConnectorRegistry(store, record.project).get(mount_id)) if store else None
    if connector is not None and connector.secret_key_secret_id:
        return _ids([_in_scope(settings, connector.secret_key_secret_id)])
    return []


def _spark_secrets(record: JobRecord, settings: Settings, store: ObjectStore | None, spark_id: str) -> list[str]:
    resolver = settings.spark_connector_resolver
    endpoint = _quietly(lambda: resolver(spark_id)) if resolver else None
    if endpoint is not None:
        return _ids([endpoint.token])
    spark = _quietly(lambda: SparkRegistry(store, record.project).get(spark_id)) if store else None
    if spark is not None and spark.token_secret_id:
        return _ids([_in_scope(settings, spark.token_secret_id)])
    return []


def _quietly(lookup: Callable[[], Any]) -> Any:
    """A connector or image that cannot be found again now (deleted, renamed) holds no value we could know."""
    try:
        return lookup()
    except Exception:  # any lookup failure means "not known now"
        return None
