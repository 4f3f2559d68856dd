"""S3 connectors (``s3-mounts``): a connector ID names a bucket/prefix with its **own** endpoint, region and
credentials — another S3-compatible service than the job store, if need be. Entries live in the project's
registry in the store (``resources/registry.py``, kind ``s3-connectors``); the secret key is never stored there:
an entry names the project secret that holds it (``secret_key_secret_id``), resolved when a job is planned.

A job gets the connector's objects copied in read-only at ``/job/s3/<ID>`` (streamed; no size cap unless the
connector sets ``max_bytes``); the credentials stay on the submitting side and never enter the container.
A ``read_write`` connector's files are writable, and what the job writes there is uploaded back to the bucket
when the job ends, whatever its outcome (``jobs/s3_sync.py``). A ``lazy`` connector's read-only mount is, where
the engine allows it (``DSJOBS_LAZY_MOUNTS``), an s3fs FUSE mount that fetches only what the job opens
(``resources/s3_lazy.py``); elsewhere it is the engine cache as before.

``DSJOBS_S3_MOUNT_<ID>=s3://bucket/prefix`` in the submitter's environment still works: such a mount uses the
job store's S3 endpoint and credentials (``DSJOBS_S3_MOUNT_<ID>_MODE=rw`` makes it read-write, ``lazy`` a lazy
read-only mount).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow_provider_dsjobs.resources.registry import JsonRegistry, RegistryError, optional_text, text
from airflow_provider_dsjobs.storage.base import ObjectStore
from airflow_provider_dsjobs.storage.s3 import S3Store

if TYPE_CHECKING:
    import boto3.session

_S3_URL_RE = re.compile(r"s3://[a-z0-9][a-z0-9.-]{1,62}(/\S*)?")


class ConnectorError(RegistryError):
    """An S3 connector cannot be registered or resolved (one line)."""


@dataclass(frozen=True)
class S3Connector:
    id: str
    url: str  # s3://bucket/prefix
    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_key_secret_id: str | None = None
    max_bytes: int | None = None
    #: Sync what the job writes under the mount path back to ``url`` when it ends.
    read_write: bool = False
    #: Read-only, and served by a lazy FUSE mount where the engine allows it (``resources/s3_lazy.py``).
    lazy: bool = False
    description: str = ""
    created_at: str = ""

    def to_doc(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> S3Connector:
        max_bytes = doc.get("max_bytes")
        if max_bytes is not None and (isinstance(max_bytes, bool) or not isinstance(max_bytes, int)):
            raise ValueError("max_bytes is not a whole number")
        return cls(
            id=text(doc, "id"),
            url=text(doc, "url"),
            endpoint_url=optional_text(doc, "endpoint_url"),
            region=optional_text(doc, "region"),
            access_key_id=optional_text(doc, "access_key_id"),
            secret_key_secret_id=optional_text(doc, "secret_key_secret_id"),
            max_bytes=max_bytes,
            read_write=doc.get("read_write") is True,
            lazy=doc.get("lazy") is True,
            description=optional_text(doc, "description") or "",
            created_at=optional_text(doc, "created_at") or "",
        )


@dataclass(frozen=True)
class S3Source:
    """Where a mount's objects come from, with resolved credentials (kept out of ``repr``; never stored)."""

    url: str
    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = field(default=None, repr=False)
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    #: A boto3 session whose credentials refresh (an assumed role), used instead of the three keys above.
    session: boto3.session.Session | None = field(default=None, repr=False, compare=False)
    max_bytes: int | None = None
    read_write: bool = False
    #: The mount asks to be lazy (``resources/s3_lazy.py``); never together with ``read_write``.
    lazy: bool = False
    #: A registered connector (else ``DSJOBS_S3_MOUNT_<ID>`` with the job store's S3 settings).
    from_connector: bool = False

    def current_keys(self) -> tuple[str | None, str | None, str | None]:
        """Access key ID, secret key and session token to sign with now: the session's current ones (refreshed if
        they were about to expire), else the three fields."""
        if self.session is None:
            return self.access_key_id, self.secret_access_key, self.session_token
        credentials = self.session.get_credentials()
        if credentials is None:
            return None, None, None
        frozen = credentials.get_frozen_credentials()
        return frozen.access_key, frozen.secret_key, frozen.token

    def secret_values(self) -> list[str]:
        """The secret key and session token this source signs with now."""
        return [value for value in self.current_keys()[1:] if value]


def source_store(source: S3Source) -> S3Store:
    """The bucket/prefix of ``source`` as an ``S3Store`` signed with its own endpoint and credentials."""
    bucket, _, prefix = source.url[len("s3://") :].partition("/")
    return S3Store(
        bucket,
        prefix,
        endpoint_url=source.endpoint_url,
        region=source.region,
        aws_access_key_id=source.access_key_id,
        aws_secret_access_key=source.secret_access_key,
        aws_session_token=source.session_token,
        session=source.session,
    )


class ConnectorRegistry(JsonRegistry[S3Connector]):
    def __init__(self, store: ObjectStore, project: str) -> None:
        super().__init__(store, project, "s3-connectors", "s3-connector", S3Connector.from_doc)

    def add(
        self,
        connector_id: str,
        url: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_key_secret_id: str | None = None,
        max_bytes: int | None = None,
        read_write: bool = False,
        lazy: bool = False,
        description: str = "",
    ) -> S3Connector:
        if not _S3_URL_RE.fullmatch(url or ""):
            raise ConnectorError(f"invalid S3 URL {url!r}: use s3://bucket/prefix")
        if bool(access_key_id) != bool(secret_key_secret_id):
            raise ConnectorError(
                "give both --access-key-id and --secret-key-secret-id (a project secret), or neither "
                "(the standard AWS credential chain of whoever submits the job)"
            )
        if max_bytes is not None and max_bytes <= 0:
            raise ConnectorError("--max-bytes must be positive")
        check_lazy(read_write, lazy, f"s3-connector {connector_id!r}")
        entry = S3Connector(
            id=connector_id,
            url=url,
            endpoint_url=endpoint_url or None,
            region=region or None,
            access_key_id=access_key_id or None,
            secret_key_secret_id=secret_key_secret_id or None,
            max_bytes=max_bytes,
            read_write=read_write,
            lazy=lazy,
            description=description,
            created_at=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        return self.put(connector_id, entry)


def check_s3_url(url: str, where: str) -> str:
    """``url`` if it is ``s3://bucket[/prefix]``, else a ``ConnectorError`` naming ``where`` it came from."""
    if not _S3_URL_RE.fullmatch(url or ""):
        raise ConnectorError(f"{where}: invalid S3 URL {url!r}: use s3://bucket/prefix")
    return url


def check_lazy(read_write: bool, lazy: bool, where: str) -> None:
    """A lazy mount is read-only: asking for both is a ``ConnectorError`` naming ``where``."""
    if read_write and lazy:
        raise ConnectorError(
            f"{where}: a read-write mount cannot be lazy (a lazy S3 mount is read-only): drop lazy or read-write"
        )
