"""The Airflow hook: a ``dsjobs`` connection turned into core ``Settings`` and a ``JobService``.

Resolution order, so example DAGs run with zero configuration:

1. the ``dsjobs`` connection named by ``dsjobs_conn_id`` (its extras override the rest);
2. the CLI's ``DSJOBS_*`` environment variables (``Settings.from_env``);
3. the embedded defaults (a local-directory store, the local Docker engine, a public image).

Only the default connection ``dsjobs_default`` may be absent (a WARNING says the fallback is used); any other
missing connection id is a typo or a missing deployment step and fails the task at once, without retries,
instead of silently running the job somewhere else.

Secrets named by ``secret-id`` in a config resolve to the project's secrets, else to the Airflow Variable
``dsjobs_secret_<ID>``, else to the password of the Connection of that name; a Variable or Connection named ``<ID>``
itself only when ``<ID>`` matches the ``allowed_secret_ids`` extra (``DSJOBS_ALLOWED_SECRET_IDS``; none by default).
Values are registered with Airflow's secret masker before anyone sees them.
Several machines may share one store, each with its own Docker engine: the ``engine_name`` extra (or
``DSJOBS_ENGINE_NAME``) names this machine's engine in job records, and the ``engines`` extra (or
``DSJOBS_ENGINES``), ``{name: {"url": ..., "tls_ca_cert": ..., "tls_client_cert": ..., "tls_client_key": ...}}``,
says how to reach the others: a job on another engine is read there, or left alone (``jobs/ownership.py``).

A project's secrets (given to every job as env vars) are the Airflow Variable ``dsjobs_project_secrets_<project>``
(or the one the ``project_secrets_variable`` extra names): a JSON object of names and values, each value masked.

S3 connector and Spark connector IDs resolve through Airflow connections first (the ``s3_connectors`` /
``spark_connectors`` extras, then the connections ``dsjobs_s3_<ID>`` / ``dsjobs_spark_<ID>``; see
``hooks/resource_connections.py``), then through the project's registries in the store.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any

from airflow.sdk import Variable
from airflow.sdk.log import mask_secret

from airflow_provider_dsjobs.compat import AirflowFailException, AirflowNotFoundException, BaseHook
from airflow_provider_dsjobs.config.errors import ConfigError
from airflow_provider_dsjobs.config.instance_types import InstanceCatalog
from airflow_provider_dsjobs.documents.record import JobRecord
from airflow_provider_dsjobs.hooks.aws_credentials import aws_settings
from airflow_provider_dsjobs.hooks.resource_connections import (
    airflow_s3_connectors,
    airflow_spark_connectors,
    check_mapping,
)
from airflow_provider_dsjobs.jobs.links import console_link
from airflow_provider_dsjobs.jobs.service import JobError, JobService
from airflow_provider_dsjobs.plugins.urls import job_page_url
from airflow_provider_dsjobs.resources.s3_connectors import ConnectorError
from airflow_provider_dsjobs.resources.secrets import SecretsError, check_secret_name
from airflow_provider_dsjobs.runtime.errors import RuntimeFailure
from airflow_provider_dsjobs.runtime.images import normalize_registry
from airflow_provider_dsjobs.settings import (
    ProjectSecretsLoader,
    SecretResolver,
    Settings,
    check_lazy_mount_root,
    out_of_scope,
    parse_cache_budget,
    parse_cache_max_age,
    parse_engines,
    parse_json_object,
    parse_pids_limit,
    parse_size_setting,
    parse_switch,
    secret_id_allowed,
    split_patterns,
    split_roots,
)

#: Connection extras copied verbatim into ``Settings`` (extra name → Settings field).
_EXTRA_TO_SETTING = {
    "store_url": "store_url",
    "project": "project",
    "endpoint_url": "s3_endpoint_url",
    "region_name": "s3_region",
    "s3_checksums": "s3_checksums",
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
    "image_pull_policy": "image_pull_policy",
    "python_interpreter": "python_interpreter",
    "working_storage_check": "working_storage_check",
    "engine_name": "engine_name",
    "s3fs_image": "s3fs_image",
}


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() not in ("0", "false", "no", "off", "")


#: The namespace of Airflow Variables and Connections any ``secret-id`` may name: ``dsjobs_secret_<ID>``.
SECRET_PREFIX = "dsjobs_secret_"


def _variable_or_connection_password(name: str) -> str | None:
    try:
        found = Variable.get(name, default=None)
    except Exception:  # a secrets backend that cannot answer is the same as "no such Variable"
        found = None
    if found is not None and str(found):
        return str(found)
    try:
        return BaseHook.get_connection(name).password or None
    except AirflowNotFoundException:
        return None


def airflow_secret_resolver(allowed: Sequence[str] = ()) -> SecretResolver:
    """A ``secret-id`` → the Airflow Variable ``dsjobs_secret_<ID>``, else the Connection of that name's password;
    the Variable/Connection named ``<ID>`` itself only when ID matches ``allowed`` (glob patterns), since a config
    or a store entry must not reach every credential of the deployment: one that exists outside them is refused
    (``SecretsError``, its value never shown), one that does not is simply not found. Masked when found."""

    def resolve(secret_id: str) -> str | None:
        value = _variable_or_connection_password(SECRET_PREFIX + secret_id)
        if not value:
            value = _variable_or_connection_password(secret_id)
            if value and not secret_id_allowed(secret_id, allowed):  # it exists, and is not the job's to name
                raise out_of_scope(secret_id, allowed, f"an Airflow Variable/Connection {SECRET_PREFIX}{secret_id}")
        if value:
            mask_secret(value)  # with a name the masker would skip ids it does not itself deem sensitive
        return value

    return resolve


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
                mask_secret(value)  # no name: "REG-PASS" is not a name Airflow deems sensitive
        return {str(k): v for k, v in data.items()}

    return load


class DataSphereJobsHook(BaseHook):
    """Connection → ``Settings`` → ``JobService``.

    :param dsjobs_conn_id: a connection of type ``dsjobs``. When ``dsjobs_default`` does not exist the hook
        uses the ``DSJOBS_*`` environment variables and the embedded defaults (with a WARNING); any other id that
        does not exist raises ``AirflowFailException`` naming it.
    :param image_pull_policy: overrides the connection's (``always``, ``if-missing``, ``never``).
    :param docker_conn_id: overrides the connection's ``docker_conn_id`` extra: a ``docker`` connection read
        through the docker provider's ``DockerHook`` (registry login before pulls, as DockerOperator does).
    """

    conn_name_attr = "dsjobs_conn_id"
    default_conn_name = "dsjobs_default"
    conn_type = "dsjobs"
    hook_name = "DataSphere Jobs"

    def __init__(
        self,
        dsjobs_conn_id: str = default_conn_name,
        image_pull_policy: str | None = None,
        docker_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.dsjobs_conn_id = dsjobs_conn_id
        self.image_pull_policy = image_pull_policy
        #: The ``docker`` connection whose DockerHook connects the engine (else the ``docker_conn_id`` extra).
        self.docker_conn_id: str | None = docker_conn_id

    # -- connection → settings -------------------------------------------------------------------------------

    def get_settings(self) -> Settings:
        """Build the core settings (connection extras over ``DSJOBS_*`` variables over embedded defaults)."""
        settings = self._settings_from_connection()
        if self.image_pull_policy:
            settings = self._replace(settings, image_pull_policy=self.image_pull_policy)
        from airflow_provider_dsjobs.runtime.engine import InsecureEngine, engine_tls

        try:
            engine_tls(settings)  # a tcp:// engine without TLS is a configuration error: fail now, never retry
        except InsecureEngine as exc:
            raise AirflowFailException(f"connection {self.dsjobs_conn_id!r}: {exc}") from None
        except RuntimeFailure:
            pass  # TLS files that cannot be read now: connecting says so (and may be retried)
        return settings

    def _replace(self, settings: Settings, **changes: Any) -> Settings:
        try:
            return dataclasses.replace(settings, **changes)
        except ValueError as exc:  # an image pull policy that does not exist
            raise AirflowFailException(f"connection {self.dsjobs_conn_id!r}: {exc}") from None

    def _settings_from_connection(self) -> Settings:
        try:
            env = Settings.from_env()
            base = dataclasses.replace(
                env,
                secret_resolver=airflow_secret_resolver(env.allowed_secret_ids),
                project_secrets=airflow_project_secrets(),
                s3_connector_resolver=airflow_s3_connectors({}),
                spark_connector_resolver=airflow_spark_connectors({}),
            )
        except ValueError as exc:
            raise AirflowFailException(f"DSJOBS_* environment: {exc}") from None
        try:
            conn = self.get_connection(self.dsjobs_conn_id)
        except AirflowNotFoundException:
            if self.dsjobs_conn_id != self.default_conn_name:
                raise AirflowFailException(
                    f"The dsjobs connection {self.dsjobs_conn_id!r} does not exist (create it, or leave "
                    f"dsjobs_conn_id unset to use {self.default_conn_name!r} or the DSJOBS_* defaults)"
                ) from None
            self.log.warning(
                "No connection %r: using the DSJOBS_* environment variables and embedded defaults (store %s)",
                self.dsjobs_conn_id,
                base.effective_store_url,
            )
            return base
        extra = conn.extra_dejson
        changes: dict[str, Any] = {}
        for name, setting in _EXTRA_TO_SETTING.items():
            value = self._extra(extra, name)
            if value not in (None, ""):
                changes[setting] = str(value)
        allowed = self._extra(extra, "allowed_secret_ids")
        if allowed not in (None, ""):
            changes["allowed_secret_ids"] = split_patterns(allowed)
            changes["secret_resolver"] = airflow_secret_resolver(changes["allowed_secret_ids"])
        code_roots = self._extra(extra, "lab_code_roots")
        if code_roots not in (None, ""):
            try:
                changes["lab_code_roots"] = split_roots(code_roots, "extra lab_code_roots")
            except ValueError as exc:
                raise AirflowFailException(f"connection {self.dsjobs_conn_id!r}: {exc}") from None
        secrets_variable = self._extra(extra, "project_secrets_variable")
        if secrets_variable:
            changes["project_secrets"] = airflow_project_secrets(str(secrets_variable))
        changes.update(self._connector_resolvers(extra))
        instance_types = self._extra(extra, "instance_types")
        if instance_types not in (None, "", {}):
            changes["instance_catalog"] = self._instance_catalog(base, instance_types)
        engines = self._extra(extra, "engines")
        if engines not in (None, "", {}):
            try:
                changes["engines"] = parse_engines(engines, "extra engines")
            except ValueError as exc:
                raise AirflowFailException(f"connection {self.dsjobs_conn_id!r}: {exc}") from None
        local_fsync = self._extra(extra, "local_fsync")
        if local_fsync not in (None, ""):
            try:
                changes["local_fsync"] = parse_switch("extra local_fsync", local_fsync, True)
            except ValueError as exc:
                raise AirflowFailException(f"connection {self.dsjobs_conn_id!r}: {exc}") from None
        tls_verify = self._extra(extra, "docker_tls_verify")
        if tls_verify is not None:
            changes["docker_tls_verify"] = _as_bool(tls_verify)
        changes.update(self._hardening_extras(extra))
        if conn.login:
            changes["aws_access_key_id"] = conn.login
        if conn.password:
            changes["aws_secret_access_key"] = conn.password
        aws_conn_id = self._extra(extra, "aws_conn_id")
        if aws_conn_id:
            changes.update(aws_settings(str(aws_conn_id), explicit=changes))
        docker_conn_id = self._extra(extra, "docker_conn_id")
        if docker_conn_id and not self.docker_conn_id:
            self.docker_conn_id = str(docker_conn_id)
        registry_conn_id = self._extra(extra, "registry_conn_id")
        if registry_conn_id:
            registry = self.get_connection(str(registry_conn_id))
            changes["registry_username"] = registry.login
            changes["registry_password"] = registry.password
            # the docker provider's form: the registry URL as host, its port in it or apart
            host = normalize_registry(registry.host) if registry.host else None
            if host and registry.port and ":" not in host:
                host = f"{host}:{registry.port}"
            changes["registry_host"] = host
        for secret in ("aws_secret_access_key", "aws_session_token", "registry_password", "lab_api_token"):
            if changes.get(secret):
                mask_secret(changes[secret])
        return self._replace(base, **changes)

    def _hardening_extras(self, extra: dict[str, Any]) -> dict[str, Any]:
        """The ``pids_limit``, ``docker_allow_insecure``, input limit and engine cache extras (a bad value fails the
        task in one line)."""
        changes: dict[str, Any] = {}
        pids_limit = self._extra(extra, "pids_limit")
        insecure = self._extra(extra, "docker_allow_insecure")
        try:
            if pids_limit not in (None, ""):
                changes["pids_limit"] = parse_pids_limit("extra pids_limit", pids_limit)
            if insecure not in (None, ""):
                changes["docker_allow_insecure"] = parse_switch("extra docker_allow_insecure", insecure, False)
            lazy, lazy_root = self._extra(extra, "lazy_mounts"), self._extra(extra, "lazy_mount_root")
            if lazy not in (None, ""):
                changes["lazy_mounts"] = parse_switch("extra lazy_mounts", lazy, False)
            if lazy_root not in (None, ""):
                changes["lazy_mount_root"] = check_lazy_mount_root("extra lazy_mount_root", lazy_root)
            for name in ("max_input_file_size", "max_job_input_size"):
                value = self._extra(extra, name)
                if value not in (None, ""):
                    changes[name] = parse_size_setting(f"extra {name}", value, 0)
            max_age, budget = self._extra(extra, "cache_max_age_days"), self._extra(extra, "cache_budget")
            if max_age not in (None, ""):
                changes["cache_max_age_days"] = parse_cache_max_age("extra cache_max_age_days", max_age)
            if budget not in (None, ""):
                changes["cache_budget"] = parse_cache_budget("extra cache_budget", budget)
        except ValueError as exc:
            raise AirflowFailException(f"connection {self.dsjobs_conn_id!r}: {exc}") from None
        return changes

    def _connector_resolvers(self, extra: dict[str, Any]) -> dict[str, Any]:
        """The ``s3_connectors`` / ``spark_connectors`` extras (connector ID → Airflow connection id)."""
        try:
            s3 = check_mapping(self._extra(extra, "s3_connectors"), "s3_connectors")
            spark = check_mapping(self._extra(extra, "spark_connectors"), "spark_connectors")
        except ConnectorError as exc:
            raise AirflowFailException(f"connection {self.dsjobs_conn_id!r}: {exc}") from None
        return {
            "s3_connector_resolver": airflow_s3_connectors(s3),
            "spark_connector_resolver": airflow_spark_connectors(spark),
        }

    def _instance_catalog(self, base: Settings, value: Any) -> InstanceCatalog:
        """The extra ``instance_types`` (the same mapping as a ``DSJOBS_INSTANCE_TYPES`` file, or its JSON text)
        over the environment's catalog; a bad entry fails the task naming the key."""
        source = f"connection {self.dsjobs_conn_id!r} extra instance_types"
        try:
            mapping = parse_json_object(value, source, "an object of instance type names and their resources")
            return base.instance_catalog.merged(mapping, source)
        except ValueError as exc:
            raise AirflowFailException(str(exc)) from None
        except ConfigError as exc:
            raise AirflowFailException("; ".join(str(p) for p in exc.problems)) from None

    @staticmethod
    def _extra(extra: dict[str, Any], name: str) -> Any:
        """An extra by its short name, or by the long ``extra__dsjobs__<name>`` form older UIs store."""
        value = extra.get(name)
        if value is None:
            value = extra.get(f"extra__dsjobs__{name}")
        return value

    # -- core objects ----------------------------------------------------------------------------------------

    @cached_property
    def settings(self) -> Settings:
        return self.get_settings()

    @cached_property
    def service(self) -> JobService:
        settings = self.settings  # first: reading the connection may set docker_conn_id
        if self.docker_conn_id:
            from airflow_provider_dsjobs.hooks.docker_engine import docker_hook_runtime
            from airflow_provider_dsjobs.jobs.errors import into_job_error
            from airflow_provider_dsjobs.runtime.errors import RuntimeFailure

            with into_job_error(RuntimeFailure):  # an InfrastructureError, like any engine failure
                return JobService(settings, runtime=docker_hook_runtime(settings, self.docker_conn_id))
        return JobService(settings)

    def get_conn(self) -> JobService:
        return self.service

    @property
    def secret_resolver(self) -> SecretResolver:
        return self.settings.secret_resolver

    def test_connection(self) -> tuple[bool, str]:
        """The UI's Test button: the store is reachable and writable, the engine answers, the image pull policy
        holds for the default image. ``(ok, one line per check)``."""
        from airflow_provider_dsjobs.hooks.connection_check import check_connection

        try:
            service = self.service
        except AirflowFailException as exc:
            return False, str(exc)
        except JobError as exc:  # the docker connection's engine or registry refused
            return False, f"engine check failed: {exc}"
        return check_connection(service)

    def job_link(self, record: JobRecord) -> str:
        """Where a user looks at a job: the console URL template (``{job_id}``, ``{project}``) when configured,
        else the job's page in this Airflow's UI (``/dsjobs/jobs/<id>``, under ``[api] base_url`` when set)."""
        link = console_link(self.settings, record)
        if link:
            return link
        return job_page_url(record.id, self.dsjobs_conn_id)
