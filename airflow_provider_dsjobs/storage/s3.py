"""S3 (and S3-compatible: Yandex Object Storage, MinIO, moto) behind the ``ObjectStore`` interface.

Uploads and downloads go through boto3's transfer manager (multipart, concurrent, retried per part);
every other call is a plain client call with botocore's adaptive retry mode. Credentials come from the
explicit arguments when given, else from boto3's usual chain (environment, ``~/.aws``, instance role).

Errors become one-line ``StoreError``s naming the bucket/prefix and what to check; a secret key is never
part of a message (botocore's messages do not carry it, and ours only name the bucket, key and endpoint).
"""

from __future__ import annotations

import io
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, NoReturn
from urllib.parse import urlsplit, urlunsplit

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    PartialCredentialsError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

from airflow_provider_dsjobs.storage.base import ObjectInfo, ObjectNotFound, ProgressCallback, StoreError
from airflow_provider_dsjobs.storage.keys import check_key

MiB = 1024 * 1024
DEFAULT_PART_SIZE = 16 * MiB
DEFAULT_CONCURRENCY = 8
DEFAULT_MAX_ATTEMPTS = 5
#: When botocore adds CRC checksums to requests (and checks them on responses): ``when_required`` sends them only
#: for the few operations that need one, so no ``aws-chunked`` bodies or CRC trailers, which S3-compatible stores
#: (Yandex Object Storage, older MinIO) reject; ``when_supported`` is boto3's own default (CRC32 on every upload).
CHECKSUM_MODES = ("when_required", "when_supported")
DEFAULT_CHECKSUMS = "when_required"

_NOT_FOUND_CODES = {"404", "NoSuchKey", "NotFound"}
_ACCESS_CODES = {"403", "AccessDenied", "AllAccessDisabled", "Forbidden"}
_BAD_CREDENTIAL_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken"}


def _redact_url(url: str | None) -> str:
    """The URL without any ``user:password@`` part."""
    if not url:
        return ""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


class _BodyReader(io.RawIOBase):
    """A botocore ``StreamingBody`` as a raw stream, so it can be wrapped in ``io.BufferedReader``."""

    def __init__(self, body: Any, on_error: Any) -> None:
        self._body = body
        self._on_error = on_error

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data = self._body.read(len(buffer))
        except (BotoCoreError, OSError) as exc:
            self._on_error(exc)
        n = len(data)
        buffer[:n] = data
        return n

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


class S3Store:
    """Objects under ``s3://bucket/prefix``."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
        aws_session_token: str | None = None,
        part_size: int = DEFAULT_PART_SIZE,
        multipart_threshold: int | None = None,
        max_concurrency: int = DEFAULT_CONCURRENCY,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        addressing_style: str | None = None,
        checksums: str = DEFAULT_CHECKSUMS,
    ) -> None:
        if not bucket:
            raise StoreError("an S3 store URL needs a bucket: use s3://bucket/prefix")
        if checksums not in CHECKSUM_MODES:
            raise StoreError(f"invalid S3 checksums setting {checksums!r}: use {' or '.join(CHECKSUM_MODES)}")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint_url = endpoint_url
        self.url = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        session = boto3.session.Session(
            aws_access_key_id=aws_access_key_id,
            aws_secret_access_key=aws_secret_access_key,
            aws_session_token=aws_session_token,
            region_name=region,
        )
        s3_options: dict[str, Any] = {}
        # Custom endpoints (MinIO, moto, on-prem) are reliably reachable only path-style.
        style = addressing_style or ("path" if endpoint_url else None)
        if style:
            s3_options["addressing_style"] = style
        config_options: dict[str, Any] = {
            "retries": {"mode": "adaptive", "max_attempts": max_attempts},
            "connect_timeout": connect_timeout,
            "read_timeout": read_timeout,
            "max_pool_connections": max(10, max_concurrency + 2),
            "s3": s3_options,
            # Content integrity does not rest on these CRCs (blobs are named by SHA-256 and every read from the store
            # is checked against it); the default keeps S3-compatible stores working. Against moto, when_required
            # costs the *server* CPU (moto then computes a full-object CRC64NVME of its own) and so upload speed on
            # a shared machine; our side spends less CPU. Measured in bench/results/throughput.md.
            "request_checksum_calculation": checksums,
            "response_checksum_validation": checksums,
        }
        config = Config(**config_options)
        try:
            self._client = session.client("s3", endpoint_url=endpoint_url, config=config)
        except (ValueError, BotoCoreError) as exc:
            raise StoreError(f"cannot set up S3 client for {self.url}: {_first_line(str(exc))}") from None
        self._transfer = TransferConfig(
            multipart_threshold=multipart_threshold or part_size,
            multipart_chunksize=part_size,
            max_concurrency=max_concurrency,
            use_threads=max_concurrency > 1,
        )
        self._bucket_checked = False

    def __repr__(self) -> str:
        return f"S3Store({self.url})"

    # -- helpers -------------------------------------------------------------------------------------------------

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def _where(self) -> str:
        return f" at {_redact_url(self.endpoint_url)}" if self.endpoint_url else ""

    def _fail(self, exc: BaseException, action: str, key: str | None = None) -> NoReturn:
        """Raise the one-line ``StoreError`` for ``exc`` (boto errors are often wrapped: follow the chain)."""
        target = self.uri(key) if key is not None else self.url
        seen: BaseException | None = exc
        while seen is not None:
            if isinstance(seen, (ClientError, BotoCoreError)):
                exc = seen
                break
            seen = seen.__cause__ or seen.__context__
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
            if code == "NoSuchBucket":
                raise StoreError(f"bucket {self.bucket} does not exist{self._where()}") from None
            if code in _NOT_FOUND_CODES and key is not None:
                raise ObjectNotFound(f"no such object: {target}") from None
            if code in _BAD_CREDENTIAL_CODES:
                raise StoreError(
                    f"invalid S3 credentials for s3://{self.bucket}{self._where()} ({code}): "
                    "check the access key ID and secret access key"
                ) from None
            if code in _ACCESS_CODES or status == "403":
                raise StoreError(f"access denied to {self.url}: check credentials") from None
            message = _first_line(str(error.get("Message", ""))) or code or status
            raise StoreError(f"cannot {action} {target}: {code or status}: {message}") from None
        if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
            raise StoreError(
                f"no S3 credentials for {self.url}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                "(or the connection's login/password)"
            ) from None
        if isinstance(exc, BotoConnectionError):
            endpoint = _redact_url(self.endpoint_url) or "the S3 endpoint"
            raise StoreError(f"cannot reach S3 endpoint {endpoint} for {self.url}: check the endpoint URL") from None
        raise StoreError(f"cannot {action} {target}: {_first_line(str(exc)) or type(exc).__name__}") from None

    def _check_bucket(self) -> None:
        """Check once that the bucket is there and reachable: a missing bucket would otherwise look like
        a missing key to ``HEAD`` requests (both are a bare 404)."""
        if self._bucket_checked:
            return
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchBucket", "NotFound"):
                raise StoreError(f"bucket {self.bucket} does not exist{self._where()}") from None
            self._fail(exc, "open bucket")
        except BotoCoreError as exc:
            self._fail(exc, "open bucket")
        self._bucket_checked = True

    def _head(self, key: str) -> dict[str, Any] | None:
        self._check_bucket()
        try:
            response = self._client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code", "")) in _NOT_FOUND_CODES:
                return None
            self._fail(exc, "read", key)
        except BotoCoreError as exc:
            self._fail(exc, "read", key)
        return dict(response)

    # -- ObjectStore ---------------------------------------------------------------------------------------------

    def exists(self, key: str) -> bool:
        return self._head(key) is not None

    def size(self, key: str) -> int | None:
        head = self._head(key)
        return None if head is None else int(head["ContentLength"])

    def put_file(self, key: str, path: Path, progress: ProgressCallback | None = None) -> None:
        self._check_bucket()
        if not Path(path).is_file():
            raise StoreError(f"cannot upload {path}: not a readable file")
        try:
            self._client.upload_file(str(path), self.bucket, self._key(key), Callback=progress, Config=self._transfer)
        except (ClientError, BotoCoreError, boto3.exceptions.Boto3Error) as exc:
            self._fail(exc, "upload to", key)

    def put_stream(self, key: str, stream: BinaryIO, progress: ProgressCallback | None = None) -> None:
        self._check_bucket()
        try:
            self._client.upload_fileobj(stream, self.bucket, self._key(key), Callback=progress, Config=self._transfer)
        except (ClientError, BotoCoreError, boto3.exceptions.Boto3Error) as exc:
            self._fail(exc, "upload to", key)

    def put_bytes(self, key: str, data: bytes) -> None:
        """A single PUT: S3 replaces an object atomically."""
        self._check_bucket()
        try:
            self._client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)
        except (ClientError, BotoCoreError) as exc:
            self._fail(exc, "write", key)

    def get_bytes(self, key: str) -> bytes:
        with self.open_read(key) as fh:
            return fh.read()

    def get_file(self, key: str, path: Path, progress: ProgressCallback | None = None) -> None:
        self._check_bucket()
        path = Path(path)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.dsjobs-partial")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._client.download_file(self.bucket, self._key(key), str(tmp), Callback=progress, Config=self._transfer)
            os.replace(tmp, path)
        except (ClientError, BotoCoreError, boto3.exceptions.Boto3Error) as exc:
            tmp.unlink(missing_ok=True)
            self._fail(exc, "download", key)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise StoreError(f"cannot write {path}: {exc.strerror or exc}") from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def open_read(self, key: str) -> BinaryIO:
        self._check_bucket()
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=self._key(key))
        except (ClientError, BotoCoreError) as exc:
            self._fail(exc, "read", key)

        def on_error(exc: BaseException) -> NoReturn:
            self._fail(exc, "read", key)

        return io.BufferedReader(_BodyReader(response["Body"], on_error), buffer_size=1024 * 1024)

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix``, sorted by key (S3 lists in key order)."""
        if prefix.startswith("/"):
            raise StoreError(f"invalid key prefix {prefix!r}: it must be relative")
        self._check_bucket()
        full_prefix = f"{self.prefix}/{prefix}" if self.prefix else prefix
        strip = len(self.prefix) + 1 if self.prefix else 0
        paginator = self._client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=full_prefix):
                for item in page.get("Contents", []):
                    yield ObjectInfo(item["Key"][strip:], int(item["Size"]), item.get("LastModified"))
        except (ClientError, BotoCoreError) as exc:
            self._fail(exc, "list")

    def list_children(self, prefix: str) -> Iterator[str]:
        """Names directly under ``prefix`` (which ends with ``/`` or is empty), sorted: ``name`` for an object,
        ``name/`` for a deeper level — one delimiter listing instead of every key below (not in the protocol)."""
        self._check_bucket()
        base = prefix.strip("/")
        full_prefix = "/".join(p for p in (self.prefix, base) if p) + "/"
        if full_prefix == "/":
            full_prefix = ""
        names: list[str] = []
        paginator = self._client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=full_prefix, Delimiter="/"):
                names.extend(p["Prefix"][len(full_prefix) :] for p in page.get("CommonPrefixes", []))
                names.extend(item["Key"][len(full_prefix) :] for item in page.get("Contents", []))
        except (ClientError, BotoCoreError) as exc:
            self._fail(exc, "list")
        return iter(sorted(n for n in names if n))

    def delete(self, key: str) -> None:
        self._check_bucket()
        try:
            self._client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code", "")) in _NOT_FOUND_CODES:
                return
            self._fail(exc, "delete", key)
        except BotoCoreError as exc:
            self._fail(exc, "delete", key)
