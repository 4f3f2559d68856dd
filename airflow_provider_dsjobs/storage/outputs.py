"""Publishing a job's outputs (or an output dataset) under a plain, human-readable prefix.

Files keep their relative paths under the prefix (``<prefix>/<relpath>``), not content addresses: users
browse and download them. The set is committed by ``<prefix>/manifest.json``, written **last**: a reader
that finds no manifest must treat the set as incomplete, and one that finds it sees every file it lists.
What a manifest holds (a job's outputs, a dataset) is typed in ``documents/manifest.py``; here it is a JSON object
(``documents/codec.py`` encodes it like every stored document).

Streams are hashed while they upload (``HashingReader``): nothing is read twice and memory stays bounded
by the transfer's part size, so no spooling to a temporary file is needed. An output's ``sha256`` is a SHA-256
(not the input cache's BLAKE3, ``digests.py``): what ``sha256sum`` prints for the downloaded file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from airflow_provider_dsjobs.documents.codec import decode, encode
from airflow_provider_dsjobs.storage import digests
from airflow_provider_dsjobs.storage.base import ObjectNotFound, ObjectStore, ProgressCallback, StoreError
from airflow_provider_dsjobs.storage.hashing import HashingReader
from airflow_provider_dsjobs.storage.keys import join_key, safe_relpath

MANIFEST_NAME = "manifest.json"
_T = TypeVar("_T")


def manifest_key(prefix: str) -> str:
    return join_key(prefix, MANIFEST_NAME)


class OutputWriter:
    """Writes files under ``prefix`` and then the manifest; refuses writes after the manifest."""

    def __init__(self, store: ObjectStore, prefix: str) -> None:
        self.store = store
        self.prefix = prefix.strip("/")
        self.committed = False

    def key(self, relpath: str) -> str:
        """The key for ``relpath`` (sanitised: no absolute paths, no ``..``, not the manifest's own name)."""
        rel = safe_relpath(relpath)
        if rel == MANIFEST_NAME:
            raise StoreError(f"invalid output path {relpath!r}: {MANIFEST_NAME} is reserved for the manifest")
        return join_key(self.prefix, rel)

    def _check_open(self) -> None:
        if self.committed:
            raise StoreError(f"outputs under {self.store.uri(self.prefix)} are already committed")

    def put_stream(self, relpath: str, stream: BinaryIO, progress: ProgressCallback | None = None) -> tuple[str, int]:
        """Upload ``stream`` to ``<prefix>/<relpath>``; returns ``(sha256, size)`` of what was uploaded."""
        self._check_open()
        key = self.key(relpath)
        reader = HashingReader(stream, name=relpath, algorithm=digests.SHA256)  # users check it with sha256sum
        self.store.put_stream(key, reader, progress)  # type: ignore[arg-type]  # a non-seekable BinaryIO
        return reader.sha256, reader.size

    def put_file(self, relpath: str, path: Path, progress: ProgressCallback | None = None) -> tuple[str, int]:
        """Upload a local file to ``<prefix>/<relpath>``; returns ``(sha256, size)``."""
        try:
            source = open(path, "rb")  # noqa: SIM115 - closed by the with below
        except OSError as exc:
            raise StoreError(f"cannot read output {path}: {exc.strerror or exc}") from None
        with source:
            return self.put_stream(relpath, source, progress)

    def write_manifest(self, manifest: Mapping[str, Any]) -> str:
        """Write ``<prefix>/manifest.json`` atomically: the commit point. Returns its URI."""
        self._check_open()
        key = manifest_key(self.prefix)
        self.store.put_bytes(key, encode(manifest))
        self.committed = True
        return self.store.uri(key)


def read_manifest(store: ObjectStore, prefix: str) -> dict[str, Any] | None:
    """The committed manifest under ``prefix``, or ``None`` when the set is not (yet) committed."""
    key = manifest_key(prefix.strip("/"))
    try:
        data = store.get_bytes(key)
    except ObjectNotFound:
        return None
    try:
        return decode(data)
    except ValueError as exc:
        raise StoreError(f"manifest {store.uri(key)} is {exc}") from None


def read_manifest_as(store: ObjectStore, prefix: str, parse: Callable[[Mapping[str, Any]], _T]) -> _T | None:
    """The committed manifest under ``prefix`` read by ``parse`` (a document's ``from_doc``), or ``None`` when the
    set is not (yet) committed. One ``parse`` refuses (``ValueError``) is corrupt: ``StoreError``."""
    data = read_manifest(store, prefix)
    if data is None:
        return None
    try:
        return parse(data)
    except ValueError as exc:
        raise StoreError(f"manifest {store.uri(manifest_key(prefix))} is corrupt: {exc}") from None
