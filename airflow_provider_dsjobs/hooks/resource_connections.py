"""S3 connectors and Spark connectors from Airflow connections: what a config's ``s3-mounts`` and
``spark.connector`` IDs resolve to in Airflow before the project's registries are asked.

For a connector ``ID`` the hook looks, first to last, at

1. the ``dsjobs`` connection's extra ``s3_connectors`` / ``spark_connectors``: ``{"ID": "<conn id>"}``, or for S3
   ``{"ID": {"conn_id": "<aws conn id>", "url": "s3://bucket/prefix"}}`` so one ``aws`` connection serves several
   buckets. A connection named there must exist;
2. the Airflow connection ``dsjobs_s3_<ID>`` / ``dsjobs_spark_<ID>``, when it exists;
3. (in ``jobs/plan.py``) the project's registry in the store, then, for S3, ``DSJOBS_S3_MOUNT_<ID>``.

An S3 connection is an ``aws`` connection, read as the job store's is (``hooks/aws_credentials.py``: through
AwsBaseHook when the amazon provider is installed, so roles and profiles work): its credentials, ``endpoint_url``
and ``region_name``; its extra ``s3_url`` names the bucket/prefix (unless the mapping gives ``url``) and
``max_bytes`` an optional size cap; ``read_write: true`` (there or in the mapping's entry) makes the mount
read-write: what the job writes there is synced back when it ends, through the same connection; ``lazy: true``
(likewise) makes the read-only mount lazy where the engine allows it (``resources/s3_lazy.py``). A Spark
connection follows the apache-spark provider's ``spark_connect`` type: host (``sc://`` optional) and port,
login = user id, password = token, extra ``use_ssl``; plus the extra ``session_params`` (an object) for
DataSphere's ``connect_to_spark()``. Secrets are registered with Airflow's
masker the moment they are read; they go to the copy-in step (S3) or the job's ``SPARK_REMOTE`` (Spark token) and
nowhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from airflow.sdk import Connection
from airflow.sdk.log import mask_secret

from airflow_provider_dsjobs.compat import AirflowNotFoundException, BaseHook
from airflow_provider_dsjobs.hooks.aws_credentials import aws_settings
from airflow_provider_dsjobs.resources.s3_connectors import ConnectorError, S3Source, check_lazy, check_s3_url
from airflow_provider_dsjobs.resources.spark import SparkConnectorError, SparkEndpoint, check_remote
from airflow_provider_dsjobs.settings import S3ConnectorResolver, SparkConnectorResolver, parse_json_object

S3_CONN_PREFIX = "dsjobs_s3_"
SPARK_CONN_PREFIX = "dsjobs_spark_"


@dataclass(frozen=True)
class _Ref:
    """Which Airflow connection a connector ID names; ``named``: the dsjobs connection's mapping named it."""

    conn_id: str
    named: bool
    url: str | None = None
    read_write: bool | None = None
    lazy: bool | None = None


def _ref(mapping: Mapping[str, Any], connector_id: str, prefix: str, extra_name: str) -> _Ref:
    entry = mapping.get(connector_id)
    if entry is None:
        return _Ref(prefix + connector_id, named=False)
    if isinstance(entry, str) and entry:
        return _Ref(entry, named=True)
    if isinstance(entry, dict) and isinstance(entry.get("conn_id"), str) and entry["conn_id"]:
        url = entry.get("url")
        url_text = None if url is None else str(url)
        return _Ref(entry["conn_id"], True, url_text, entry.get("read_write"), entry.get("lazy"))
    raise ConnectorError(
        f"dsjobs connection extra {extra_name}[{connector_id!r}]: give a connection id, or "
        '{"conn_id": "...", "url": "s3://bucket/prefix", "read_write": false, "lazy": false}'
    )


def _connection(
    ref: _Ref, connector_id: str, error: type[ConnectorError] | type[SparkConnectorError]
) -> Connection | None:
    try:
        return BaseHook.get_connection(ref.conn_id)
    except AirflowNotFoundException:
        if ref.named:
            raise error(
                f"connector {connector_id!r} names the Airflow connection {ref.conn_id!r}, which does not exist"
            ) from None
        return None


def check_mapping(value: Any, extra_name: str) -> Mapping[str, Any]:
    """A ``dsjobs`` connection's ``s3_connectors``/``spark_connectors`` extra: an object keyed by connector ID
    (or its JSON text, as the connection form stores it)."""
    try:
        return parse_json_object(value, f"dsjobs connection extra {extra_name}", 'an object {"<ID>": "<conn id>"}')
    except ValueError as exc:
        raise ConnectorError(str(exc)) from None


def airflow_s3_connectors(mapping: Mapping[str, Any]) -> S3ConnectorResolver:
    """Resolve ``s3-mounts`` IDs through Airflow ``aws`` connections (``None``: no connection for that ID)."""

    def resolve(connector_id: str) -> S3Source | None:
        ref = _ref(mapping, connector_id, S3_CONN_PREFIX, "s3_connectors")
        conn = _connection(ref, connector_id, ConnectorError)
        return None if conn is None else _s3_source(conn, ref)

    return resolve


def _s3_source(conn: Connection, ref: _Ref) -> S3Source:
    where = f"Airflow connection {conn.conn_id!r}"
    extra = conn.extra_dejson
    url = ref.url or extra.get("s3_url")
    if not url:
        raise ConnectorError(f"{where} names no bucket: set its extra s3_url to s3://bucket/prefix")
    check_s3_url(str(url), where)
    max_bytes = extra.get("max_bytes")
    if max_bytes is not None and (not isinstance(max_bytes, int) or isinstance(max_bytes, bool) or max_bytes <= 0):
        raise ConnectorError(f"{where}: extra max_bytes must be a positive integer, got {max_bytes!r}")
    found = aws_settings(conn.conn_id, explicit={})
    for secret in ("aws_secret_access_key", "aws_session_token"):
        if found.get(secret):
            mask_secret(found[secret])
    read_write = ref.read_write if ref.read_write is not None else extra.get("read_write", False)
    if not isinstance(read_write, bool):
        raise ConnectorError(f"{where}: read_write must be true or false, got {read_write!r}")
    lazy = ref.lazy if ref.lazy is not None else extra.get("lazy", False)
    if not isinstance(lazy, bool):
        raise ConnectorError(f"{where}: lazy must be true or false, got {lazy!r}")
    check_lazy(read_write, lazy, where)
    return S3Source(
        str(url),
        found.get("s3_endpoint_url"),
        found.get("s3_region"),
        found.get("aws_access_key_id"),
        found.get("aws_secret_access_key"),
        found.get("aws_session_token"),
        session=found.get("aws_session"),
        max_bytes=max_bytes,
        read_write=read_write,
        lazy=lazy,
        from_connector=True,  # a finalizer resolves it again, through the same connection, to sync it back
    )


def airflow_spark_connectors(mapping: Mapping[str, Any]) -> SparkConnectorResolver:
    """Resolve ``spark.connector`` IDs through Airflow ``spark_connect`` connections (``None``: none for it)."""

    def resolve(connector_id: str) -> SparkEndpoint | None:
        ref = _ref(mapping, connector_id, SPARK_CONN_PREFIX, "spark_connectors")
        conn = _connection(ref, connector_id, SparkConnectorError)
        return None if conn is None else spark_endpoint(conn)

    return resolve


def spark_endpoint(conn: Connection) -> SparkEndpoint:
    """A ``spark_connect`` connection as the job's Spark Connect endpoint (its token masked)."""
    where = f"Airflow connection {conn.conn_id!r}"
    host = (conn.host or "").strip()
    if not host:
        raise SparkConnectorError(f"{where} has no host: set it to the Spark Connect server's host name")
    parts = urlsplit(host if "://" in host else f"sc://{host}")
    if parts.scheme != "sc" or parts.path not in ("", "/"):
        raise SparkConnectorError(f"{where}: host {host!r} is not a Spark Connect host (sc://host:port)")
    netloc = parts.netloc if parts.port is not None or not conn.port else f"{parts.netloc}:{conn.port}"
    extra = conn.extra_dejson
    params = [f"user_id={quote(conn.login)}"] if conn.login else []
    if extra.get("use_ssl") is not None:
        params.append(f"use_ssl={'true' if _truthy(extra['use_ssl']) else 'false'}")
    remote = check_remote(f"sc://{netloc}/;{';'.join(params)}" if params else f"sc://{netloc}")
    session = extra.get("session_params") or {}
    if not isinstance(session, dict):
        raise SparkConnectorError(f"{where}: extra session_params must be an object of Spark settings")
    token = conn.password or None
    if token:
        mask_secret(token)
    return SparkEndpoint(remote, {str(k): str(v) for k, v in session.items()}, token)


def _truthy(value: Any) -> bool:
    return value is True or str(value).strip().lower() in ("1", "true", "yes", "on")
