"""A project registry in the job store: small JSON documents, one per entry, under
``projects/<project>/resources/<kind>/<ID>.json``. Every worker and CLI that reaches the store sees the same
entries; a write replaces one entry atomically (``ObjectStore.put_bytes``). Entries never hold a secret value:
they name project secrets, which resolve when a job is planned.

Entries follow the stored documents' convention (``to_doc``/``from_doc``, bytes by ``documents/codec.py``). Any
store writer can rewrite an entry, so ``from_doc`` takes each field only with its own type (``text``,
``optional_text``) and a document that is anything else is reported as not an entry, never half-read."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Generic, Protocol, TypeVar

from airflow_provider_dsjobs.documents.codec import decode, encode
from airflow_provider_dsjobs.storage.base import ObjectNotFound, ObjectStore, StoreError
from airflow_provider_dsjobs.storage.cas import check_project, project_prefix

ENTRY_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,50}")


class Entry(Protocol):
    def to_doc(self) -> dict[str, Any]: ...


T = TypeVar("T", bound=Entry)


def text(doc: Mapping[str, Any], key: str) -> str:
    """``doc[key]``, which must be a string (``ValueError`` otherwise)."""
    value = doc.get(key)
    if not isinstance(value, str):
        raise ValueError(f"{key} is not a string")
    return value


def optional_text(doc: Mapping[str, Any], key: str) -> str | None:
    """``doc[key]`` when it is a string, ``None`` when missing or null (``ValueError`` for any other type)."""
    return None if doc.get(key) is None else text(doc, key)


class RegistryError(StoreError):
    """An entry cannot be registered, found or read (one line)."""


def check_entry_id(entry_id: str, what: str) -> str:
    if not ENTRY_ID_RE.fullmatch(entry_id or ""):
        raise RegistryError(f"invalid {what} ID {entry_id!r}: use 1 to 50 letters, digits, '_' or '-'")
    return entry_id


class JsonRegistry(Generic[T]):
    """Entries of one ``kind`` (``docker-images``, ``s3-connectors``, ``spark-connectors``) of a project, read by
    ``from_doc`` (the entry type's classmethod, which raises ``ValueError`` on a bad document) and written by the
    entry's ``to_doc``. Each kind subclasses it with its own validating ``add``."""

    def __init__(
        self,
        store: ObjectStore,
        project: str,
        kind: str,
        what: str,
        from_doc: Callable[[dict[str, Any]], T],
    ) -> None:
        self.store = store
        self.prefix = f"{project_prefix(check_project(project))}resources/{kind}"
        self.what = what
        self._from_doc = from_doc

    def _key(self, entry_id: str) -> str:
        return f"{self.prefix}/{check_entry_id(entry_id, self.what)}.json"

    def put(self, entry_id: str, entry: T) -> T:
        self.store.put_bytes(self._key(entry_id), encode(entry.to_doc()))
        return entry

    def get(self, entry_id: str) -> T | None:
        key = self._key(entry_id)
        try:
            data = self.store.get_bytes(key)
        except ObjectNotFound:
            return None
        try:
            return self._from_doc(decode(data))
        except ValueError:
            raise RegistryError(f"{self.store.uri(key)} is not a {self.what} entry written by dsjobs") from None

    def all(self) -> list[T]:
        """Every entry, in ID order."""
        found = []
        for info in self.store.list(self.prefix + "/"):
            name = info.key[len(self.prefix) + 1 :]
            if name.endswith(".json") and "/" not in name:
                entry = self.get(name[: -len(".json")])
                if entry is not None:
                    found.append((name, entry))
        return [entry for _, entry in sorted(found, key=lambda pair: pair[0])]

    def remove(self, entry_id: str) -> bool:
        key = self._key(entry_id)
        if not self.store.exists(key):
            return False
        self.store.delete(key)
        return True
