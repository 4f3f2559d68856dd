"""S3 settings from an Airflow ``aws`` connection (the ``aws_conn_id`` extra of a ``dsjobs`` connection).

With ``apache-airflow-providers-amazon`` installed the connection is read through its ``AwsBaseHook``, so
everything an ``aws`` connection can say is honoured: ``role_arn`` and the assume-role methods, ``profile_name``,
session and config kwargs. Credentials that expire (an assumed role's, one hour by default) are not copied: the
settings carry the connection's boto3 session, whose credentials botocore refreshes before they expire, so a job,
a deferral or a triggerer that outlives them keeps reading and writing (in the worker and in the triggerer alike:
each builds its hook, and so its session, from the connection). Static keys are copied as they are. Without
that provider only the login/password/session token and the
endpoint/region extras can be honoured, and a connection that uses more is refused with a message naming what
is missing, instead of silently using other credentials.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk.log import mask_secret
from botocore.credentials import RefreshableCredentials

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
    session = hook.get_session(region_name=hook.conn_region_name)
    credentials = session.get_credentials()
    out: dict[str, Any] = {}
    if credentials is None:  # nothing found: the store then tries boto3's usual chain itself
        pass
    elif isinstance(credentials, RefreshableCredentials):
        # the session signs instead of any keys the dsjobs connection itself gives (aws_conn_id wins, as before)
        out.update(aws_session=session, aws_access_key_id=None, aws_secret_access_key=None, aws_session_token=None)
        frozen = credentials.get_frozen_credentials()
        for value in (frozen.secret_key, frozen.token):
            if value:
                mask_secret(value)  # later ones never reach a log either: nothing here logs credentials
    else:
        frozen = credentials.get_frozen_credentials()
        out["aws_access_key_id"] = frozen.access_key
        out["aws_secret_access_key"] = frozen.secret_key
        if frozen.token:
            out["aws_session_token"] = frozen.token
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
