"""S3 settings from an Airflow ``aws`` connection (the ``aws_conn_id`` extra of a ``dsjobs`` connection).

With ``apache-airflow-providers-amazon`` installed the connection is read through its ``AwsBaseHook``, so
everything an ``aws`` connection can say is honoured: ``role_arn`` and the assume-role methods, ``profile_name``,
session and config kwargs. The credentials it yields are frozen when the hook builds its settings (temporary ones
last as long as the role's session). Without that provider only the login/password/session token and the
endpoint/region extras can be honoured, and a connection that uses more is refused with a message naming what
is missing, instead of silently using other credentials.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_dsjobs.compat import AirflowFailException, BaseHook

#: ``aws`` connection extras that only the amazon provider's AwsBaseHook can honour.
NEEDS_AMAZON_PROVIDER = (
    "role_arn",
    "assume_role_method",
    "assume_role_kwargs",
    "profile_name",
    "session_kwargs",
    "config_kwargs",
    "botocore_config",
    "external_id",
)


def amazon_provider_installed() -> bool:
    try:
        import airflow.providers.amazon.aws.hooks.base_aws  # noqa: F401
    except ImportError:
        return False
    return True


def aws_settings(aws_conn_id: str, explicit: dict[str, Any]) -> dict[str, Any]:
    """``Settings`` changes (credentials, and endpoint/region unless ``explicit`` sets them) from ``aws_conn_id``."""
    if amazon_provider_installed():
        return _through_aws_base_hook(aws_conn_id, explicit)
    return _from_connection_fields(aws_conn_id, explicit)


def _through_aws_base_hook(aws_conn_id: str, explicit: dict[str, Any]) -> dict[str, Any]:
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    hook = AwsBaseHook(aws_conn_id=aws_conn_id, client_type="s3")
    credentials = hook.get_credentials()
    out: dict[str, Any] = {
        "aws_access_key_id": credentials.access_key,
        "aws_secret_access_key": credentials.secret_key,
    }
    if credentials.token:
        out["aws_session_token"] = credentials.token
    endpoint = hook.conn_config.get_service_endpoint_url("s3") or hook.conn_config.endpoint_url
    if endpoint and "s3_endpoint_url" not in explicit:
        out["s3_endpoint_url"] = endpoint
    if hook.conn_region_name and "s3_region" not in explicit:
        out["s3_region"] = hook.conn_region_name
    return out


def _from_connection_fields(aws_conn_id: str, explicit: dict[str, Any]) -> dict[str, Any]:
    aws = BaseHook.get_connection(aws_conn_id)
    extra = aws.extra_dejson
    unsupported = [name for name in NEEDS_AMAZON_PROVIDER if extra.get(name)]
    if unsupported:
        raise AirflowFailException(
            f"aws connection {aws_conn_id!r} uses {', '.join(unsupported)}, which only the amazon provider can "
            "honour: pip install apache-airflow-providers-amazon (or give the keys on the connection itself)"
        )
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
