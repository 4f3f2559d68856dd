"""The Airflow hook: a ``dsjobs`` connection turned into core ``Settings`` and a ``JobService``.

Resolution order, so example DAGs run with zero configuration:

1. the ``dsjobs`` connection named by ``dsjobs_conn_id`` (its extras override the rest);
2. the CLI's ``DSJOBS_*`` environment variables (``Settings.from_env``);
3. the embedded defaults (a local-directory store, the local Docker engine, a public image).

Secrets named by ``secret-id`` in a config resolve to an Airflow Variable of that name, else to the password of
an Airflow Connection of that name, and are registered with Airflow's secret masker before anyone sees them.
A project's secrets (given to every job as env vars) are the Airflow Variable ``dsjobs_project_secrets_<project>``
(or the one the ``project_secrets_variable`` extra names): a JSON object of names and values, each value masked.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from functools import cached_property
from typing import Any

from airflow.sdk import BaseHook, Variable
from airflow.sdk.exceptions import AirflowNotFoundException
from airflow.sdk.log import mask_secret

from airflow_provider_dsjobs.jobs.links import console_link
from airflow_provider_dsjobs.jobs.record import JobRecord
from airflow_provider_dsjobs.jobs.service import JobService
from airflow_provider_dsjobs.plugins.urls import job_page_url
from airflow_provider_dsjobs.resources.secrets import SecretsError, check_secret_name
from airflow_provider_dsjobs.settings import ProjectSecretsLoader, SecretResolver, Settings

#: Connection extras copied verbatim into ``Settings`` (extra name → Settings field).
_EXTRA_TO_SETTING = {
    "store_url": "store_url",
    "project": "project",
    "endpoint_url": "s3_endpoint_url",
    "region_name": "s3_region",
    "aws_session_token": "aws_session_token",
    "docker_url": "docker_url",
    "docker_tls_ca_cert": "docker_tls_ca_cert",
    "docker_tls_client_cert": "docker_tls_client_cert",
    "docker_tls_client_key": "docker_tls_client_key",
    "docker_network": "docker_network",
    "default_image": "default_image",
    "python_image_template": "python_image_template",
    "console_url_template": "console_url_template",
    "lab_endpoint": "lab_endpoint",
    "lab_api_token": "lab_api_token",
}


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() not in ("0", "false", "no", "off", "")


def airflow_secret_resolver(secret_id: str) -> str | None:
    """A ``secret-id`` → an Airflow Variable of that name, else a Connection's password; masked when found."""
    value: str | None = None
    try:
        found = Variable.get(secret_id, default=None)
        value = None if found is None else str(found)
    except Exception:  # a secrets backend that cannot answer is the same as "no such Variable"
        value = None
    if value is None:
        try:
            value = BaseHook.get_connection(secret_id).password
        except AirflowNotFoundException:
            value = None
    if value:
        mask_secret(value, name=secret_id)
    return value or None


def project_secrets_variable(project: str) -> str:
    """The Airflow Variable that holds a project's secrets: a JSON object ``{"NAME": "value", ...}``."""
    return f"dsjobs_project_secrets_{project}"


def airflow_project_secrets(variable: str | None = None) -> ProjectSecretsLoader:
    """Project secrets from Airflow's secrets backends: the JSON Variable ``variable`` (default
    ``dsjobs_project_secrets_<project>``; none means the project has no secrets). Every value is masked."""

    def load(settings: Settings) -> Mapping[str, str]:
        name = variable or project_secrets_variable(settings.project)
        try:
            text = Variable.get(name, default=None)
        except Exception:  # a secrets backend that cannot answer is the same as "no such Variable"
            text = None
        if text is None:
            return {}
        try:
            data = json.loads(str(text))
        except ValueError:
            raise SecretsError(f"Airflow Variable {name!r} is not a JSON object of secret names and values") from None
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise SecretsError(f"Airflow Variable {name!r} is not a JSON object of secret names and string values")
        for key, value in data.items():
            check_secret_name(str(key))
            if value:
                mask_secret(value, name=str(key))
        return {str(k): v for k, v in data.items()}

    return load


class DataSphereJobsHook(BaseHook):
    """Connection → ``Settings`` → ``JobService``.

    :param dsjobs_conn_id: a connection of type ``dsjobs``. When it does not exist the hook uses the
        ``DSJOBS_*`` environment variables and the embedded defaults instead, so it never fails for that reason.
    """

    conn_name_attr = "dsjobs_conn_id"
    default_conn_name = "dsjobs_default"
    conn_type = "dsjobs"
    hook_name = "DataSphere Jobs"

    def __init__(self, dsjobs_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dsjobs_conn_id = dsjobs_conn_id

    # -- connection → settings -------------------------------------------------------------------------------

    def get_settings(self) -> Settings:
        """Build the core settings (connection extras over ``DSJOBS_*`` variables over embedded defaults)."""
        base = dataclasses.replace(
            Settings.from_env(), secret_resolver=airflow_secret_resolver, project_secrets=airflow_project_secrets()
        )
        try:
            conn = self.get_connection(self.dsjobs_conn_id)
        except AirflowNotFoundException:
            self.log.info(
                "No connection %r: using DSJOBS_* environment variables and embedded defaults", self.dsjobs_conn_id
            )
            return base
        extra = conn.extra_dejson
        changes: dict[str, Any] = {}
        for name, setting in _EXTRA_TO_SETTING.items():
            value = self._extra(extra, name)
            if value not in (None, ""):
                changes[setting] = str(value)
        secrets_variable = self._extra(extra, "project_secrets_variable")
        if secrets_variable:
            changes["project_secrets"] = airflow_project_secrets(str(secrets_variable))
        tls_verify = self._extra(extra, "docker_tls_verify")
        if tls_verify is not None:
            changes["docker_tls_verify"] = _as_bool(tls_verify)
        if conn.login:
            changes["aws_access_key_id"] = conn.login
        if conn.password:
            changes["aws_secret_access_key"] = conn.password
        aws_conn_id = self._extra(extra, "aws_conn_id")
        if aws_conn_id:
            changes.update(self._aws_settings(str(aws_conn_id), explicit=changes))
        registry_conn_id = self._extra(extra, "registry_conn_id")
        if registry_conn_id:
            registry = self.get_connection(str(registry_conn_id))
            changes["registry_username"] = registry.login
            changes["registry_password"] = registry.password
        for secret in ("aws_secret_access_key", "aws_session_token", "registry_password", "lab_api_token"):
            if changes.get(secret):
                mask_secret(changes[secret])
        return dataclasses.replace(base, **changes)

    @staticmethod
    def _extra(extra: dict[str, Any], name: str) -> Any:
        """An extra by its short name, or by the long ``extra__dsjobs__<name>`` form older UIs store."""
        value = extra.get(name)
        if value is None:
            value = extra.get(f"extra__dsjobs__{name}")
        return value

    def _aws_settings(self, aws_conn_id: str, explicit: dict[str, Any]) -> dict[str, Any]:
        """S3 credentials (and endpoint/region when not set on the dsjobs connection) from an ``aws`` connection.

        Reads only login, password and extras, so the amazon provider does not have to be installed."""
        aws = self.get_connection(aws_conn_id)
        extra = aws.extra_dejson
        out: dict[str, Any] = {}
        if aws.login:
            out["aws_access_key_id"] = aws.login
        if aws.password:
            out["aws_secret_access_key"] = aws.password
        if extra.get("aws_session_token"):
            out["aws_session_token"] = extra["aws_session_token"]
        endpoint = extra.get("endpoint_url") or (extra.get("service_config") or {}).get("s3", {}).get("endpoint_url")
        if endpoint and "s3_endpoint_url" not in explicit:
            out["s3_endpoint_url"] = endpoint
        if extra.get("region_name") and "s3_region" not in explicit:
            out["s3_region"] = extra["region_name"]
        return out

    # -- core objects ----------------------------------------------------------------------------------------

    @cached_property
    def settings(self) -> Settings:
        return self.get_settings()

    @cached_property
    def service(self) -> JobService:
        return JobService(self.settings)

    def get_conn(self) -> JobService:
        return self.service

    @property
    def secret_resolver(self) -> SecretResolver:
        return self.settings.secret_resolver

    def job_link(self, record: JobRecord) -> str:
        """Where a user looks at a job: the console URL template (``{job_id}``, ``{project}``) when configured,
        else the job's page in this Airflow's UI (``/dsjobs/jobs/<id>``, under ``[api] base_url`` when set)."""
        link = console_link(self.settings, record)
        if link:
            return link
        return job_page_url(record.id, self.dsjobs_conn_id)
