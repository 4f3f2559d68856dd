"""Spark connectors (``spark: {connector: <id>}``): a connector ID names a Spark Connect endpoint registered in
the project (``resources/registry.py``, kind ``spark-connectors``). A job whose config names one gets:

* ``SPARK_REMOTE=sc://host:port[/;params]`` — what ``SparkSession.builder.getOrCreate()`` of a pyspark Connect
  client reads by itself;
* ``JOB_DATAPROC_CONNECTION_CONFIG=/job/spark_connection_config.json`` — the file DataSphere's
  ``connect_to_spark()`` reads (``master_node_host``, ``connection_mode: SPARK_CONNECT``, ``session_params``), so
  job code written for DataSphere runs unchanged.

A token, when the endpoint needs one, is a project secret the entry names; it goes into ``SPARK_REMOTE`` only
(``sc://host:port/;token=...``), never into the store. Anyone who can write the store can point an entry at another
endpoint, so the entry is bound to its endpoint's ``host:port`` (``token_binding``, ``resources/secret_binding.py``;
``spark-connector add`` needs the token to make it): a token whose binding no longer matches the entry's endpoint,
or the token itself, is never given to a job (``token_problem``). In Airflow a connector ID may resolve through an
Airflow connection instead (``hooks/resource_connections.py``); either way the job gets a ``SparkEndpoint``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from airflow_provider_dsjobs.resources import secret_binding
from airflow_provider_dsjobs.resources.registry import JsonRegistry, RegistryError, optional_text, text
from airflow_provider_dsjobs.resources.secrets import env_var_secret_name
from airflow_provider_dsjobs.storage.base import ObjectStore

CONFIG_PATH = "/job/spark_connection_config.json"
_REMOTE_RE = re.compile(r"sc://[A-Za-z0-9.\-\[\]:]+(/\S*)?")


class SparkConnectorError(RegistryError):
    """A Spark connector cannot be registered or resolved (one line)."""


@dataclass(frozen=True)
class SparkConnector:
    id: str
    remote: str  # sc://host:port
    session_params: Mapping[str, str] = field(default_factory=dict)
    token_secret_id: str | None = None
    description: str = ""
    created_at: str = ""
    #: The proof that whoever registered the entry knew its token for this endpoint's host:port.
    token_binding: str | None = None

    def to_doc(self) -> dict[str, Any]:
        return {**asdict(self), "session_params": dict(self.session_params)}

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> SparkConnector:
        params = doc.get("session_params") or {}
        if not isinstance(params, dict) or not all(isinstance(v, str) for v in params.values()):
            raise ValueError("session_params is not an object of strings")
        return cls(
            id=text(doc, "id"),
            remote=text(doc, "remote"),
            session_params={str(k): v for k, v in params.items()},
            token_secret_id=optional_text(doc, "token_secret_id"),
            description=optional_text(doc, "description") or "",
            created_at=optional_text(doc, "created_at") or "",
            token_binding=optional_text(doc, "token_binding"),
        )

    def endpoint(self, token: str | None) -> SparkEndpoint:
        return SparkEndpoint(self.remote, self.session_params, token)


@dataclass(frozen=True)
class SparkEndpoint:
    """A resolved Spark connector: what a job is given. ``token`` (kept out of ``repr``) is never stored."""

    remote: str  # sc://host:port[/;param=value...]
    session_params: Mapping[str, str] = field(default_factory=dict)
    token: str | None = field(default=None, repr=False)

    @property
    def host(self) -> str:
        """``host:port``, as DataSphere's ``master_node_host`` gives it."""
        return self.remote[len("sc://") :].split("/", 1)[0]

    def spark_remote(self) -> str:
        """The ``SPARK_REMOTE`` value: the endpoint with ``;token=...`` among its parameters (after ``/``, where
        pyspark's client reads them)."""
        if not self.token:
            return self.remote
        base = self.remote if "/" in self.remote[len("sc://") :] else self.remote + "/"
        return f"{base};token={self.token}"

    def job_env(self) -> dict[str, str]:
        return {"SPARK_REMOTE": self.spark_remote(), "JOB_DATAPROC_CONNECTION_CONFIG": CONFIG_PATH}

    def connection_config(self) -> bytes:
        config = {
            "master_node_host": self.host,
            "connection_mode": "SPARK_CONNECT",
            "session_params": dict(self.session_params),
        }
        return json.dumps(config, indent=2).encode()


_PURPOSE = "dsjobs-spark-token-binding"


def _host_of(remote: str) -> str:
    return remote[len("sc://") :].split("/", 1)[0]


def token_problem(connector: SparkConnector, token: str) -> str | None:
    """Why ``token`` may not go to ``connector``'s endpoint (``None``: it may)."""
    if _REMOTE_RE.fullmatch(connector.remote or "") is None:
        return f"its endpoint {connector.remote!r} is not sc://host:port"
    again = f"register it again with `dsjobs spark-connector add {connector.id} sc://HOST:PORT --token-secret-id ...`"
    if not connector.token_binding:
        return f"the entry has no binding of its token to its endpoint: {again}"
    if not secret_binding.binding_matches(connector.token_binding, token, _PURPOSE, _host_of(connector.remote)):
        return (
            f"its token binding does not match its endpoint {_host_of(connector.remote)} and token (the entry was "
            f"changed, or the token rotated): {again}"
        )
    return None


def check_remote(remote: str) -> str:
    if not _REMOTE_RE.fullmatch(remote or ""):
        raise SparkConnectorError(f"invalid Spark Connect endpoint {remote!r}: use sc://host:port")
    return remote


class SparkRegistry(JsonRegistry[SparkConnector]):
    def __init__(self, store: ObjectStore, project: str) -> None:
        super().__init__(store, project, "spark-connectors", "spark-connector", SparkConnector.from_doc)

    def add(
        self,
        connector_id: str,
        remote: str,
        *,
        session_params: Mapping[str, str] | None = None,
        token_secret_id: str | None = None,
        token: str | None = None,
        description: str = "",
    ) -> SparkConnector:
        """Register an endpoint; with ``token_secret_id``, ``token`` is that secret's value (never stored), which
        binds the entry to the endpoint's host:port."""
        check_remote(remote)
        binding = None
        if token_secret_id:
            if not token:
                raise SparkConnectorError(
                    f"secret {token_secret_id!r} is not set here: the token binds the connector to its endpoint, so "
                    f"`spark-connector add` needs it (`dsjobs secret set {token_secret_id}` or "
                    f"{env_var_secret_name(token_secret_id)})"
                )
            binding = secret_binding.make_binding(token, _PURPOSE, _host_of(remote))
        entry = SparkConnector(
            id=connector_id,
            remote=check_remote(remote),
            session_params=dict(session_params or {}),
            token_secret_id=token_secret_id or None,
            description=description,
            created_at=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            token_binding=binding,
        )
        return self.put(connector_id, entry)
