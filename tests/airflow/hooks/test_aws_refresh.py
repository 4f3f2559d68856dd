"""AWS credentials that expire mid-job: an ``aws`` connection that assumes a role gets credentials for a short
while (here 3 s; on AWS one hour by default, 15 minutes at the least); a job, a deferral or a triggerer that
outlives them must keep reading and writing its store. In front of moto sits ``ExpiringCredentials``, which
refuses requests signed with expired temporary keys as AWS does (moto itself never checks expiry)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from airflow.triggers.base import TriggerEvent

from airflow_provider_dsjobs.hooks import DataSphereJobsHook
from airflow_provider_dsjobs.storage.base import StoreError
from airflow_provider_dsjobs.storage.s3 import S3Store
from airflow_provider_dsjobs.triggers import DataSphereJobTrigger
from tests.airflow.helpers import submit_probe
from tests.airflow.hooks.helpers import set_conn
from tests.servers import ExpiringCredentials, expiring_credentials_proxy

pytestmark = pytest.mark.airflow

LIFETIME = 3  # seconds an assumed role's credentials last here


@pytest.fixture()
def proxy(moto_server: str) -> Iterator[ExpiringCredentials]:
    with expiring_credentials_proxy(moto_server, LIFETIME) as state:
        yield state


@pytest.fixture()
def role_conn(clean_env: pytest.MonkeyPatch, proxy: ExpiringCredentials, moto_server: str, test_image: str) -> str:
    """A ``dsjobs`` connection whose store is reached through an ``aws`` connection that assumes a role."""
    import airflow.providers.amazon  # noqa: F401  (the dev extra installs it: missing, this test fails, never skips)

    bucket = f"refresh-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1", aws_access_key_id="x",
                 aws_secret_access_key="x").create_bucket(Bucket=bucket)  # fmt: skip
    endpoints = {"sts": {"endpoint_url": proxy.endpoint}, "s3": {"endpoint_url": proxy.endpoint}}
    set_conn(
        clean_env,
        "role_aws",
        conn_type="aws",
        login="AKIDBASE0000",
        password="base-secret",
        extra={
            "role_arn": "arn:aws:iam::123456789012:role/dsjobs",
            "region_name": "us-east-1",
            "service_config": endpoints,
        },
    )
    set_conn(clean_env, "ds", conn_type="dsjobs", extra={"aws_conn_id": "role_aws", "store_url": f"s3://{bucket}/x"})
    clean_env.setenv("DSJOBS_DEFAULT_IMAGE", test_image)
    return "ds"


def _expire(proxy: ExpiringCredentials) -> None:
    """Wait until every temporary key issued so far has expired."""
    time.sleep(max(0.0, max(proxy.expiry.values()) - time.time()) + 0.5)


def test_a_static_copy_of_assumed_credentials_is_refused_once_expired(
    role_conn: str, proxy: ExpiringCredentials
) -> None:
    """The fault is real: the keys the hook used to copy once stop working after their lifetime."""
    settings = DataSphereJobsHook(dsjobs_conn_id=role_conn).get_settings()
    assert settings.aws_session is not None and settings.aws_access_key_id is None
    frozen = settings.aws_session.get_credentials().get_frozen_credentials()
    bucket = settings.effective_store_url.removeprefix("s3://").split("/")[0]
    copy = S3Store(bucket, "x", endpoint_url=proxy.endpoint, region="us-east-1", aws_access_key_id=frozen.access_key,
                   aws_secret_access_key=frozen.secret_key, aws_session_token=frozen.token, max_attempts=1)  # fmt: skip
    copy.put_bytes("probe", b"1")
    _expire(proxy)
    with pytest.raises(StoreError) as caught:
        copy.get_bytes("probe")
    assert str(caught.value).startswith(f"expired S3 credentials for s3://{bucket}")
    assert frozen.secret_key not in str(caught.value)
    assert proxy.refused == [frozen.access_key]


@pytest.mark.docker
def test_a_job_outliving_its_credentials_finishes_and_stays_readable(
    role_conn: str, proxy: ExpiringCredentials
) -> None:
    """The worker: submit, follow and stage out a job that runs longer than the role's credentials last."""
    service = DataSphereJobsHook(dsjobs_conn_id=role_conn).get_conn()
    try:
        job_id = submit_probe(service, SLEEP=str(LIFETIME + 2))
        record = service.wait(job_id)
        assert record.status.value == "SUCCESS", record.error
        _expire(proxy)
        assert service.get(job_id).status.value == "SUCCESS"  # a status read after every key issued so far expired
        assert [line for _, line in service.logs(job_id)]
    finally:
        service.close()
    assert len(proxy.issued) > 1  # the role was assumed again as keys ran out
    assert not proxy.refused  # and no request was ever signed with an expired key


@pytest.mark.docker
def test_the_triggerer_outlives_its_credentials(role_conn: str, proxy: ExpiringCredentials) -> None:
    """The triggerer builds its own hook from the connection; its polls keep working past the first keys."""
    service = DataSphereJobsHook(dsjobs_conn_id=role_conn).get_conn()
    try:
        job_id = submit_probe(service, SLEEP=str(2 * LIFETIME + 1))
        trigger = DataSphereJobTrigger(job_id=job_id, dsjobs_conn_id=role_conn, poll_interval=0.5, stream_logs=False)

        async def first_event() -> dict[str, Any]:
            async for event in trigger.run():
                assert isinstance(event, TriggerEvent)
                return dict(event.payload)
            raise AssertionError("the trigger yielded nothing")

        payload = asyncio.run(asyncio.wait_for(first_event(), timeout=120))
        assert payload["status"] == "exited", payload
        assert service.finalize(job_id).status.value == "SUCCESS"
    finally:
        service.close()
    assert not proxy.refused


def test_static_keys_are_still_copied(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keys that never expire need no session: they are copied as before."""
    set_conn(clean_env, "plain", conn_type="aws", login="AKPLAIN", password="plain-secret-2")
    set_conn(clean_env, "ds", conn_type="dsjobs", extra={"aws_conn_id": "plain"})
    settings = DataSphereJobsHook(dsjobs_conn_id="ds").get_settings()
    assert settings.aws_session is None
    assert (settings.aws_access_key_id, settings.aws_secret_access_key) == ("AKPLAIN", "plain-secret-2")
