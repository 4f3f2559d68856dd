"""The object-store interface. Two backends implement it: S3 (``s3.py``) and a local directory (``local.py``).

Keys are ``/``-separated strings relative to the store's root (the URL's bucket + prefix). Every method
streams: nothing reads a whole object into memory except ``get_bytes``, which is for small JSON documents.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

#: Called with the number of bytes just transferred (for progress bars).
ProgressCallback = Callable[[int], None]


class StoreError(Exception):
    """A store operation failed; the message is one line a user can act on (no secrets in it)."""


class ObjectNotFound(StoreError):
    """The key does not exist (raised by ``get_bytes``, ``get_file`` and ``open_read``)."""


class PreconditionFailed(StoreError):
    """A conditional write lost: the object changed since it was read (``if_match``), or it exists already
    (``if_none_match``). The writer re-reads and decides again."""


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    modified: datetime | None = None
    #: The object's ETag as S3 lists it (quotes stripped); None from stores that have none (the local one).
    etag: str | None = None


class ObjectStore(Protocol):
    """What the core needs from object storage."""

    #: The store's URL (``s3://bucket/prefix`` or ``file:///path``), without credentials.
    url: str

    def uri(self, key: str) -> str:
        """A URI for ``key`` a user can paste (``s3://bucket/prefix/key`` or ``file:///...``)."""
        ...

    def exists(self, key: str) -> bool: ...

    def size(self, key: str) -> int | None:
        """The object's size, or ``None`` when it does not exist."""
        ...

    def put_file(self, key: str, path: Path, progress: ProgressCallback | None = None) -> None:
        """Upload a local file (multipart and concurrent where the backend supports it)."""
        ...

    def put_stream(self, key: str, stream: BinaryIO, progress: ProgressCallback | None = None) -> None:
        """Upload from a readable binary stream of unknown length."""
        ...

    def put_bytes(self, key: str, data: bytes) -> None:
        """Write a small object atomically: a reader sees the old or the new content, never a mix."""
        ...

    def get_bytes(self, key: str) -> bytes: ...

    def get_file(self, key: str, path: Path, progress: ProgressCallback | None = None) -> None:
        """Download to ``path`` via a temporary file renamed into place."""
        ...

    def open_read(self, key: str) -> BinaryIO:
        """A streaming reader; the caller closes it."""
        ...

    def get_with_version(self, key: str) -> tuple[bytes, str]:
        """A small object and its version token (S3: the ETag; local: a hash of the content), for
        ``put_bytes_if``. Raises ``ObjectNotFound``."""
        ...

    def put_bytes_if(self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False) -> str:
        """Write a small object atomically only if it still has version ``if_match`` (or, with ``if_none_match``,
        only if it does not exist); returns the new version. Raises ``PreconditionFailed`` otherwise. Where the
        backend cannot check the precondition atomically it says so in its docs (S3 endpoints without
        conditional writes)."""
        ...

    def list(self, prefix: str) -> Iterator[ObjectInfo]: ...

    def list_keys(self, prefix: str, *, start_after: str | None = None, limit: int = 1000) -> builtins.list[str]:
        """Up to ``limit`` keys directly under ``prefix`` (which ends with ``/``; deeper keys are not listed) in
        key order, after ``start_after``: one page of a listing (one request on S3), so a caller that needs only
        the first keys reads only those."""
        ...

    def delete(self, key: str) -> None:
        """Delete ``key``; deleting a missing key is not an error."""
        ...


@dataclass(frozen=True)
class CopiedIn:
    """A ``copy_in`` copy: its handle, and the SHA-256 and size of exactly the bytes it holds."""

    path: Path
    sha256: str
    size: int


@runtime_checkable
class CopiesIn(Protocol):
    """A store that can copy a local file in *before* its key is known (the local store), so the content-addressed
    stager hashes a file while it is copied instead of hashing first and copying after."""

    def copy_in(self, path: Path) -> CopiedIn:
        """Copy ``path`` into the store under a temporary name no listing shows, hashing the copy as it is made
        (its content is what gets named, so its own hash is the one that counts); returns that handle."""
        ...

    def copy_in_bytes(self, data: bytes) -> Path:
        """Like ``copy_in``, from content already read (a small file the stager read whole to hash it)."""
        ...

    def exists(self, key: str) -> bool:
        """Whether ``key`` names an object (as in ``ObjectStore``)."""
        ...

    def commit_copies(self, copies: Sequence[tuple[Path, str]], progress: ProgressCallback | None = None) -> None:
        """Give ``copy_in`` copies their keys, as one batch: each atomically (a reader sees the old object or this
        one), and only once its bytes are durable, so a crash never leaves a named object half-written."""
        ...

    def drop_copy(self, copy: Path) -> None:
        """Discard a ``copy_in`` copy that is not needed (its content is already stored)."""
        ...
