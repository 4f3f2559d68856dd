"""Content ids: the one place that knows which hash algorithm names a stored blob.

Store format 1 named every blob by the SHA-256 of its content, as 64 lowercase hex digits, under
``blobs/sha256/``. Store format 2 (``STORE_FORMAT``) hashes **new** blobs with BLAKE3 — several times faster than
SHA-256 on one core, and multithreaded for large files — and names them ``blake3:<64 hex digits>``, under
``blobs/blake3/``. The algorithm is part of the id, so the documents that hold ids (job records, trees, leases,
plan documents) keep their shapes, and a format-1 id (a bare hex SHA-256) still names its blob: old records,
forks of old jobs and old trees keep working, and every blob read from the store is checked with the algorithm
its id names.

Not content ids, and still SHA-256: a tree's id (the hash of its small canonical JSON, ``tree_id_of``) and the
``sha256`` of an output in an output manifest (what ``sha256sum`` prints, so a user can check a download).
"""

from __future__ import annotations

import hashlib
import re
from typing import Protocol

import blake3 as _blake3

from airflow_provider_dsjobs.storage.base import StoreError

SHA256 = "sha256"
BLAKE3 = "blake3"
#: 1: SHA-256 blobs only; 2: new blobs BLAKE3 (``blake3:<hex>``), SHA-256 blobs still read and verified.
STORE_FORMAT = 2
#: The algorithm a new blob is named by.
NEW_BLOB_ALGORITHM = BLAKE3
#: Inputs at least this large are hashed by BLAKE3 on every core (below it, threads cost more than they save).
THREADED_MIN_BYTES = 4 * 1024 * 1024

_HEX = re.compile(r"[0-9a-f]{64}")
_ALGORITHMS = (SHA256, BLAKE3)


class _Hash(Protocol):
    def update(self, data: bytes | bytearray | memoryview, /) -> object: ...
    def hexdigest(self) -> str: ...


class ContentHash:
    """A running hash of some content (``update`` it, then ``content_id()``), with ``algorithm``'s digest.
    ``large``: the content is big enough for BLAKE3 to hash it on every core."""

    def __init__(self, algorithm: str = NEW_BLOB_ALGORITHM, *, large: bool = False) -> None:
        self.algorithm = algorithm
        self._hash = _new_hash(algorithm, large)

    def update(self, data: bytes | bytearray | memoryview) -> None:
        self._hash.update(data)

    def content_id(self) -> str:
        return content_id(self.algorithm, self._hash.hexdigest())


def _new_hash(algorithm: str, large: bool) -> _Hash:
    if algorithm == BLAKE3:
        return _blake3.blake3(max_threads=_blake3.blake3.AUTO if large else 1)
    if algorithm == SHA256:
        return hashlib.sha256()
    raise ValueError(f"unknown hash algorithm {algorithm!r}")


def content_id(algorithm: str, hexdigest: str) -> str:
    """The id of content whose ``algorithm`` digest is ``hexdigest``: bare hex for SHA-256 (format 1), else
    ``<algorithm>:<hex>``."""
    return hexdigest if algorithm == SHA256 else f"{algorithm}:{hexdigest}"


def parse(content_id: str) -> tuple[str, str]:
    """``(algorithm, hex digest)`` of a content id; ``StoreError`` for anything that is not one (ids come from
    stored documents: a hostile one must not reach a key or a path)."""
    algorithm, sep, digest = (content_id or "").rpartition(":")
    algorithm = algorithm if sep else SHA256
    if algorithm not in _ALGORITHMS or (sep and algorithm == SHA256) or not _HEX.fullmatch(digest):
        raise StoreError(
            f"invalid content id {content_id!r}: expected 64 lowercase hex digits (SHA-256) or blake3:<64 hex digits>"
        )
    return algorithm, digest


def check(content_id: str) -> str:
    """``content_id`` when it is a valid content id, else ``StoreError``."""
    parse(content_id)
    return content_id


def hash_of(data: bytes | bytearray | memoryview, algorithm: str = NEW_BLOB_ALGORITHM) -> str:
    """The content id of ``data``."""
    digest = ContentHash(algorithm, large=len(data) >= THREADED_MIN_BYTES)
    digest.update(data)
    return digest.content_id()


def verifier(content_id: str) -> ContentHash:
    """A running hash to check content against ``content_id``, with the algorithm that id names."""
    return ContentHash(parse(content_id)[0], large=True)


def blob_path(content_id: str) -> str:
    """Where a blob lives under a project's ``blobs/``: ``<algorithm>/<first 2 hex digits>/<hex digest>``."""
    algorithm, digest = parse(content_id)
    return f"{algorithm}/{digest[:2]}/{digest}"


def from_blob_path(path: str) -> str | None:
    """The content id of a blob at ``path`` (``blob_path``'s form), or None for anything else under ``blobs/``."""
    parts = path.split("/")
    if len(parts) != 3 or parts[0] not in _ALGORITHMS or not _HEX.fullmatch(parts[2]) or parts[1] != parts[2][:2]:
        return None
    return content_id(parts[0], parts[2])


def tree_id_of(data: bytes) -> str:
    """A tree's id: the SHA-256 (hex) of its canonical JSON (trees are small; their ids keep format 1's form)."""
    return hashlib.sha256(data).hexdigest()


def check_tree_id(tree_id: str) -> str:
    if not _HEX.fullmatch(tree_id or ""):
        raise StoreError(f"invalid tree id {tree_id!r}: expected 64 lowercase hex digits")
    return tree_id
