"""A project registry in the job store: small JSON documents, one per entry, under
``projects/<project>/resources/<kind>/<ID>.json``. Every worker and CLI that reaches the store sees the same
entries; a write replaces one entry atomically (``ObjectStore.put_bytes``). Entries never hold a secret value:
they name project secrets, which resolve when a job is planned."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from airflow_provider_dsjobs.storage.base import ObjectNotFound, ObjectStore, StoreError
from airflow_provider_dsjobs.storage.cas import check_project, project_prefix

ENTRY_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,50}")

T = TypeVar("T")


class RegistryError(StoreError):
    """An entry cannot be registered, found or read (one line)."""


def check_entry_id(entry_id: str, what: str) -> str:
    if not ENTRY_ID_RE.fullmatch(entry_id or ""):
        raise RegistryError(f"invalid {what} ID {entry_id!r}: use 1 to 50 letters, digits, '_' or '-'")
    return entry_id


class JsonRegistry(Generic[T]):
    """Entries of one ``kind`` (``docker-images``, ``s3-connectors``, ``spark-connectors``) of a project, turned
    into ``T`` by ``decode`` (a ``dict`` → ``T`` that raises ``KeyError``/``TypeError``/``ValueError`` on a bad
    document). Each kind subclasses it with its own validating ``add``."""

    def __init__(
        self,
        store: ObjectStore,
        project: str,
        kind: str,
        what: str,
        encode: Callable[[T], dict[str, Any]],
        decode: Callable[[dict[str, Any]], T],
    ) -> None:
        self.store = store
        self.prefix = f"{project_prefix(check_project(project))}resources/{kind}"
        self.what = what
        self._encode = encode
        self._decode = decode

    def _key(self, entry_id: str) -> str:
        return f"{self.prefix}/{check_entry_id(entry_id, self.what)}.json"

    def put(self, entry_id: str, entry: T) -> T:
        self.store.put_bytes(self._key(entry_id), json.dumps(self._encode(entry), sort_keys=True).encode())
        return entry

    def get(self, entry_id: str) -> T | None:
        key = self._key(entry_id)
        try:
            data = self.store.get_bytes(key)
        except ObjectNotFound:
            return None
        try:
            return self._decode(json.loads(data))
        except (ValueError, KeyError, TypeError, AttributeError):
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
