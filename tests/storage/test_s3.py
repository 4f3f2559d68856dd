"""S3-specific behaviour on a real (moto) endpoint: error messages a user can act on, never a secret."""

from __future__ import annotations

import hashlib
import os
import socket
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from airflow_provider_dsjobs.settings import Settings
from airflow_provider_dsjobs.storage.base import StoreError
from airflow_provider_dsjobs.storage.s3 import S3Store
from tests.storage.stores import make_s3_store

SECRET = "wJalrXUtnFEMI-very-secret-KEY"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_missing_bucket_is_named(s3_env: dict[str, str]) -> None:
    store = S3Store(
        "no-such-bucket-here",
        "p",
        endpoint_url=s3_env["endpoint"],
        aws_secret_access_key=SECRET,
        aws_access_key_id="testing",
    )
    with pytest.raises(StoreError) as err:
        store.exists("x")
    assert str(err.value).startswith("bucket no-such-bucket-here does not exist")
    assert SECRET not in str(err.value)


def test_bucket_deleted_under_an_upload_is_reported_not_traced(s3_env: dict[str, str], tmp_path: Path) -> None:
    store = make_s3_store(s3_env)
    assert not store.exists("x")  # bucket checked once here
    boto3.client("s3", endpoint_url=s3_env["endpoint"]).delete_bucket(Bucket=s3_env["bucket"])
    src = tmp_path / "f"
    src.write_bytes(b"data")
    with pytest.raises(StoreError, match=f"^bucket {s3_env['bucket']} does not exist"):
        store.put_file("f", src)


def test_unreachable_endpoint(s3_env: dict[str, str]) -> None:
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    store = S3Store(
        "b",
        "p",
        endpoint_url=endpoint,
        max_attempts=2,
        connect_timeout=1,
        aws_access_key_id="AKIA",
        aws_secret_access_key=SECRET,
    )
    with pytest.raises(StoreError) as err:
        store.put_bytes("k", b"x")
    message = str(err.value)
    assert message.startswith(f"cannot reach S3 endpoint {endpoint}")
    assert "\n" not in message and SECRET not in message


def test_endpoint_credentials_in_url_are_not_echoed(s3_env: dict[str, str]) -> None:
    port = _closed_port()
    store = S3Store("b", endpoint_url=f"http://user:{SECRET}@127.0.0.1:{port}", max_attempts=1, connect_timeout=1)
    with pytest.raises(StoreError) as err:
        store.exists("k")
    assert SECRET not in str(err.value)
    assert f"127.0.0.1:{port}" in str(err.value)


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("AccessDenied", 403, "access denied to s3://{bucket}/tests: check credentials"),
        ("InvalidAccessKeyId", 403, "invalid S3 credentials for s3://{bucket}"),
        ("SignatureDoesNotMatch", 403, "invalid S3 credentials for s3://{bucket}"),
    ],
)
def test_auth_failures_are_mapped(
    s3_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, code: str, status: int, expected: str
) -> None:
    # moto accepts any credentials, so inject the server's answer (fault injection only).
    store = make_s3_store(s3_env, aws_access_key_id="AKIAFAKE", aws_secret_access_key=SECRET)

    def deny(**kwargs: object) -> None:
        response: Any = {
            "Error": {"Code": code, "Message": f"denied for key {SECRET}"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }
        raise ClientError(response, "HeadBucket")

    monkeypatch.setattr(store._client, "head_bucket", deny)
    with pytest.raises(StoreError) as err:
        store.get_bytes("k")
    assert str(err.value).startswith(expected.format(bucket=s3_env["bucket"]))
    assert SECRET not in str(err.value)


def test_explicit_credentials_work_and_stay_out_of_repr(s3_env: dict[str, str]) -> None:
    store = make_s3_store(s3_env, aws_access_key_id="testing", aws_secret_access_key=SECRET)
    store.put_bytes("k", b"v")
    assert store.get_bytes("k") == b"v"
    assert SECRET not in repr(store) and SECRET not in store.url


def test_objects_live_under_the_prefix(s3_env: dict[str, str]) -> None:
    store = make_s3_store(s3_env)
    store.put_bytes("a/b", b"1")
    keys = [
        o["Key"]
        for o in boto3.client("s3", endpoint_url=s3_env["endpoint"]).list_objects_v2(Bucket=s3_env["bucket"])[
            "Contents"
        ]
    ]
    assert keys == ["tests/a/b"]
    assert store.uri("a/b") == f"s3://{s3_env['bucket']}/tests/a/b"
    assert [i.key for i in store.list("a/")] == ["a/b"]


def test_no_credentials_anywhere(s3_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    store = S3Store(s3_env["bucket"], endpoint_url=s3_env["endpoint"], max_attempts=1)
    with pytest.raises(StoreError, match=f"^no S3 credentials for s3://{s3_env['bucket']}: set AWS_ACCESS_KEY_ID"):
        store.exists("k")


def _upload_headers(store: S3Store) -> list[dict[str, str]]:
    """The headers of every request the store's client sends from now on (observed, not changed)."""
    sent: list[dict[str, str]] = []

    def record(request: Any, **_: Any) -> None:
        sent.append({k.lower(): str(v) for k, v in request.headers.items()})

    store._client.meta.events.register("before-send.s3", record)
    return sent


@pytest.mark.parametrize("checksums", ["when_required", "when_supported"])
def test_checksum_modes_upload_multipart_intact(s3_env: dict[str, str], tmp_path: Path, checksums: str) -> None:
    """``when_required`` (the default, for stores that reject CRC trailers) sends no checksum header or trailer on
    uploads; ``when_supported`` (boto3's default) sends CRCs. Both store the exact bytes, multipart included."""
    store = make_s3_store(s3_env, checksums=checksums)
    sent = _upload_headers(store)
    payload = os.urandom(6 * 1024 * 1024 + 3)  # two parts of 5 MiB and less
    src = tmp_path / "src.bin"
    src.write_bytes(payload)
    store.put_file(f"{checksums}/big.bin", src)
    store.put_bytes(f"{checksums}/small.json", b"{}")
    with store.open_read(f"{checksums}/big.bin") as fh:
        assert hashlib.sha256(fh.read()).hexdigest() == hashlib.sha256(payload).hexdigest()
    crc_headers = [h for h in sent if "x-amz-trailer" in h or any(k.startswith("x-amz-checksum-") for k in h)]
    if checksums == "when_required":
        assert crc_headers == []
        assert not any("aws-chunked" in h.get("content-encoding", "") for h in sent)
    else:
        assert crc_headers


def test_default_checksum_mode_is_the_compatible_one(s3_env: dict[str, str]) -> None:
    store = S3Store(s3_env["bucket"], endpoint_url=s3_env["endpoint"])
    assert store._client.meta.config.request_checksum_calculation == "when_required"
    assert Settings().s3_checksums == "when_required"
    assert Settings.from_env({"DSJOBS_S3_CHECKSUMS": "when_supported"}).s3_checksums == "when_supported"


def test_unknown_checksum_mode_is_one_line(s3_env: dict[str, str]) -> None:
    with pytest.raises(StoreError) as err:
        S3Store(s3_env["bucket"], endpoint_url=s3_env["endpoint"], checksums="crc32")
    assert str(err.value) == "invalid S3 checksums setting 'crc32': use when_required or when_supported"
