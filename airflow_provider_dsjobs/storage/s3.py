"""S3 (and S3-compatible: Yandex Object Storage, MinIO, moto) behind the ``ObjectStore`` interface.

Uploads and downloads go through boto3's transfer manager (multipart, concurrent, retried per part);
every other call is a plain client call with botocore's adaptive retry mode. Credentials come from the
explicit arguments when given, or from a boto3 ``session`` (whose credentials botocore refreshes before they
expire: an assumed role outlives its first hour), else from boto3's usual chain (environment, ``~/.aws``,
instance role).

Conditional writes (``put_bytes_if``) send ``If-Match: <etag>`` / ``If-None-Match: *`` with the PUT. An endpoint
that ignores them would let two writers both win, so the first conditional write probes the endpoint once (a
second ``If-None-Match: *`` PUT of a probe object must fail with 412); where it does not, a warning is logged once
and writes fall back to compare-then-write: the version is checked by a read just before the PUT, which narrows a
lost update to the moment between the two but cannot exclude it (last writer wins then).

Errors become one-line ``StoreError``s naming the bucket/prefix and what to check; a secret key is never
part of a message (botocore's messages do not carry it, and ours only name the bucket, key and endpoint).
"""

from __future__ import annotations

import builtins
import io
import logging
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

from airflow_provider_dsjobs.storage.base import (
    ObjectInfo,
    ObjectNotFound,
    PreconditionFailed,
    ProgressCallback,
    StoreError,
)
from airflow_provider_dsjobs.storage.keys import check_key

log = logging.getLogger(__name__)

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
#: A conditional PUT that lost (412), or one S3 refused because another conditional write was in flight (409).
_PRECONDITION_CODES = {"412", "PreconditionFailed", "409", "ConditionalRequestConflict"}
#: Where the one-time probe of conditional writes writes (under the store's prefix).
CONDITIONAL_PROBE_KEY = "maintenance/conditional-write-probe"
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


def _code(exc: ClientError) -> str:
    code = str(exc.response.get("Error", {}).get("Code", ""))
    return code or str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))


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
        session: boto3.session.Session | None = None,
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
        if session is None:
            session = boto3.session.Session(
                aws_access_key_id=aws_access_key_id,
                aws_secret_access_key=aws_secret_access_key,
                aws_session_token=aws_session_token,
                region_name=region,
            )
        elif aws_access_key_id or aws_secret_access_key or aws_session_token:
            raise StoreError(f"S3 store {self.url}: give either a session or keys, not both")
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
            self._client = session.client("s3", endpoint_url=endpoint_url, region_name=region, config=config)
        except (ValueError, BotoCoreError) as exc:
            raise StoreError(f"cannot set up S3 client for {self.url}: {_first_line(str(exc))}") from None
        self._transfer = TransferConfig(
            multipart_threshold=multipart_threshold or part_size,
            multipart_chunksize=part_size,
            max_concurrency=max_concurrency,
            use_threads=max_concurrency > 1,
        )
        self._bucket_checked = False
        #: Whether the endpoint honours If-Match / If-None-Match on PUT (None: not probed yet).
        self.conditional_writes: bool | None = None

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
            if code == "ExpiredToken":
                raise StoreError(
                    f"expired S3 credentials for s3://{self.bucket}{self._where()}: temporary keys copied once "
                    "outlive their session; give an aws_conn_id (its session refreshes them) or fresh keys"
                ) from None
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

    def get_with_version(self, key: str) -> tuple[bytes, str]:
        self._check_bucket()
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=self._key(key))
            return response["Body"].read(), str(response["ETag"])
        except (ClientError, BotoCoreError) as exc:
            self._fail(exc, "read", key)

    def put_bytes_if(self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False) -> str:
        """One PUT with ``If-Match`` / ``If-None-Match: *``; 412 (or 409, a concurrent conditional write) is
        ``PreconditionFailed``. On an endpoint without conditional writes: compare, then write (module docs)."""
        self._check_bucket()
        if not self._conditional_supported():
            return self._put_compared(key, data, if_match, if_none_match)
        options: dict[str, Any] = {}
        if if_match is not None:
            options["IfMatch"] = if_match
        if if_none_match:
            options["IfNoneMatch"] = "*"
        try:
            response = self._client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, **options)
        except ClientError as exc:
            if _code(exc) in _PRECONDITION_CODES or (if_match is not None and _code(exc) in _NOT_FOUND_CODES):
                raise PreconditionFailed(f"{self.uri(key)} changed since it was read ({_code(exc)})") from None
            self._fail(exc, "write", key)
        except BotoCoreError as exc:
            self._fail(exc, "write", key)
        return str(response["ETag"])

    def _put_compared(self, key: str, data: bytes, if_match: str | None, if_none_match: bool) -> str:
        head = self._head(key)
        current = None if head is None else str(head["ETag"])
        if (if_none_match and current is not None) or (if_match is not None and current != if_match):
            raise PreconditionFailed(f"{self.uri(key)} changed since it was read")
        try:
            response = self._client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)
        except (ClientError, BotoCoreError) as exc:
            self._fail(exc, "write", key)
        return str(response["ETag"])

    def _conditional_supported(self) -> bool:
        """Probe once: a second ``If-None-Match: *`` PUT of the probe object must be refused (412)."""
        if self.conditional_writes is not None:
            return self.conditional_writes
        probe = self._key(CONDITIONAL_PROBE_KEY)
        supported = False
        try:
            for _ in range(2):
                self._client.put_object(Bucket=self.bucket, Key=probe, Body=b"probe", IfNoneMatch="*")
        except ClientError as exc:
            supported = _code(exc) in _PRECONDITION_CODES
            if not supported and _code(exc) not in ("501", "NotImplemented", "400", "InvalidArgument"):
                self._fail(exc, "write", CONDITIONAL_PROBE_KEY)
        except BotoCoreError as exc:
            self._fail(exc, "write", CONDITIONAL_PROBE_KEY)
        if not supported:
            log.warning(
                "S3 endpoint %s does not honour conditional writes (If-Match/If-None-Match): job records are "
                "updated compare-then-write, so two hosts changing one job at the same instant may lose an update",
                _redact_url(self.endpoint_url) or "s3",
            )
        self.conditional_writes = supported
        return supported

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
                    etag = str(item.get("ETag") or "").strip('"') or None
                    yield ObjectInfo(item["Key"][strip:], int(item["Size"]), item.get("LastModified"), etag)
        except (ClientError, BotoCoreError) as exc:
            self._fail(exc, "list")

    def list_keys(self, prefix: str, *, start_after: str | None = None, limit: int = 1000) -> builtins.list[str]:
        """One ``ListObjectsV2`` request (``Delimiter='/'``, ``StartAfter``, ``MaxKeys``)."""
        if not prefix.endswith("/") or prefix.startswith("/"):
            raise StoreError(f"invalid key prefix {prefix!r}: list_keys needs a relative one ending with '/'")
        self._check_bucket()
        strip = len(self.prefix) + 1 if self.prefix else 0
        options: dict[str, Any] = {"Prefix": self._key(prefix.rstrip("/")) + "/", "Delimiter": "/"}
        if start_after is not None:
            options["StartAfter"] = self._key(start_after)
        try:
            page = self._client.list_objects_v2(Bucket=self.bucket, MaxKeys=max(1, min(limit, 1000)), **options)
        except (ClientError, BotoCoreError) as exc:
            self._fail(exc, "list")
        return [item["Key"][strip:] for item in page.get("Contents", [])]

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
