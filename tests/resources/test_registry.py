"""Registry entries as a store writer may leave them: each kind reads an entry only when every field has its own
type, and reports anything else in one line as not an entry, without reading half of it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dsjobs.documents.codec import decode
from airflow_provider_dsjobs.resources.images import ImageRegistry
from airflow_provider_dsjobs.resources.registry import JsonRegistry, RegistryError
from airflow_provider_dsjobs.resources.s3_connectors import ConnectorRegistry
from airflow_provider_dsjobs.resources.spark import SparkRegistry
from airflow_provider_dsjobs.storage.local import LocalStore
from tests.resources.tamper import rewrite_entry


def _images(store: LocalStore) -> JsonRegistry[Any]:
    registry = ImageRegistry(store, "p1")
    registry.add("e1", "cr.example.com/ml/train:1", description="train")
    return registry


def _s3(store: LocalStore) -> JsonRegistry[Any]:
    registry = ConnectorRegistry(store, "p1")
    registry.add("e1", "s3://bucket/data", endpoint_url="http://127.0.0.1:9000", max_bytes=1024)
    return registry


def _spark(store: LocalStore) -> JsonRegistry[Any]:
    registry = SparkRegistry(store, "p1")
    registry.add("e1", "sc://spark.example:15002", session_params={"spark.executor.memory": "1g"})
    return registry


KINDS = {"image": _images, "s3-connector": _s3, "spark-connector": _spark}
TAMPERED = {
    "image": [{"image": 7}, {"username": ["bot"]}, {"registry": {"host": "evil.example"}}, {"id": None}],
    "s3-connector": [{"url": 1}, {"endpoint_url": ["http://evil.example"]}, {"max_bytes": "1e99"}, {"max_bytes": True}],
    "spark-connector": [{"remote": None}, {"session_params": ["a"]}, {"token_secret_id": 5}],
}


@pytest.mark.parametrize("kind", KINDS)
def test_an_entry_reads_back_as_it_was_added(tmp_path: Path, kind: str) -> None:
    registry = KINDS[kind](LocalStore(tmp_path))
    entry = registry.get("e1")
    assert entry is not None and registry.all() == [entry]
    stored = decode(registry.store.get_bytes(registry._key("e1")))
    assert stored == entry.to_doc() and type(entry).from_doc(stored) == entry


@pytest.mark.parametrize(("kind", "fields"), [(kind, fields) for kind, cases in TAMPERED.items() for fields in cases])
def test_an_entry_with_a_field_of_another_type_is_not_read(tmp_path: Path, kind: str, fields: dict[str, Any]) -> None:
    registry = KINDS[kind](LocalStore(tmp_path))
    rewrite_entry(registry, "e1", fields)
    with pytest.raises(RegistryError, match=f"e1.json is not a {kind} entry written by dsjobs$") as info:
        registry.get("e1")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("data", [b"[1, 2]", b"not json", b'"text"', b"\xff\xfe"])
def test_an_entry_that_is_no_json_object_is_not_read(tmp_path: Path, data: bytes) -> None:
    registry = _s3(LocalStore(tmp_path))
    registry.store.put_bytes(registry._key("e1"), data)
    with pytest.raises(RegistryError, match=r"is not a s3-connector entry written by dsjobs$"):
        registry.all()
