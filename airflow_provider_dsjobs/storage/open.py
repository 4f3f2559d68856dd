"""Turn a store URL from the settings into an ``ObjectStore``.

Accepted forms: ``s3://bucket[/prefix]``, ``file:///absolute/path`` and a bare local path (``/data/store``,
``~/store``, ``./store``), which means the same as ``file://``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import unquote, urlsplit

from airflow_provider_dsjobs.storage.base import ObjectStore, StoreError
from airflow_provider_dsjobs.storage.local import LocalStore
from airflow_provider_dsjobs.storage.s3 import S3Store

if TYPE_CHECKING:
    import boto3.session


class StoreSettings(Protocol):
    """What opening the store reads of the settings (``settings.Settings`` has all of it)."""

    @property
    def effective_store_url(self) -> str: ...

    @property
    def local_fsync(self) -> bool: ...

    @property
    def s3_endpoint_url(self) -> str | None: ...

    @property
    def s3_region(self) -> str | None: ...

    @property
    def s3_checksums(self) -> str: ...

    @property
    def aws_access_key_id(self) -> str | None: ...

    @property
    def aws_secret_access_key(self) -> str | None: ...

    @property
    def aws_session_token(self) -> str | None: ...

    @property
    def aws_session(self) -> boto3.session.Session | None: ...


def _looks_like_url(url: str) -> bool:
    scheme, sep, _ = url.partition("://")
    return bool(sep) and scheme.replace("+", "").replace("-", "").replace(".", "").isalnum()


def open_store(settings: StoreSettings) -> ObjectStore:
    """The store ``settings.effective_store_url`` names, with the settings' S3 endpoint and credentials."""
    url = settings.effective_store_url.strip()
    if not url:
        raise StoreError("empty store URL: use s3://bucket/prefix or file:///path")
    if not _looks_like_url(url):
        return LocalStore(Path(url).expanduser(), fsync=settings.local_fsync)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise StoreError(f"file store URL {url!r} names host {parts.netloc!r}: use file:///absolute/path")
        if not parts.path:
            raise StoreError(f"file store URL {url!r} has no path: use file:///absolute/path")
        return LocalStore(Path(unquote(parts.path)), fsync=settings.local_fsync)
    if scheme in ("s3", "s3a"):
        if "@" in parts.netloc:
            raise StoreError("the S3 store URL must not contain credentials: put them in the connection or AWS_* vars")
        return S3Store(
            parts.netloc,
            unquote(parts.path),
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            checksums=settings.s3_checksums,
            aws_access_key_id=settings.aws_access_key_id,
            aws_secret_access_key=settings.aws_secret_access_key,
            aws_session_token=settings.aws_session_token,
            session=settings.aws_session,
        )
    # Never echo the whole URL: it may carry a password (scheme://user:pass@host).
    shown = f"{parts.scheme}://{parts.hostname or ''}{parts.path}"
    raise StoreError(f"unknown store URL scheme {parts.scheme!r} in {shown}: use s3://bucket/prefix or file:///path")
