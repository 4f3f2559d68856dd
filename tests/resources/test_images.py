"""The project image registry, on both store backends."""

from __future__ import annotations

import pytest

from airflow_provider_dsjobs.resources.images import ImageRegistry, ImageRegistryError
from airflow_provider_dsjobs.resources.registry import RegistryError
from airflow_provider_dsjobs.storage.base import ObjectStore
from tests.storage.stores import local_store, s3_store, store  # noqa: F401  (fixtures)


def test_add_get_list_remove(store: ObjectStore) -> None:  # noqa: F811
    registry = ImageRegistry(store, "p1")
    registry.add(
        "trainer", "registry.example.com/ml:1.2", username="bot", password_secret_id="REG-PASS", password="pw-value"
    )
    registry.add("b1gabcdefghij0123456", "python:3.11-slim", description="base")
    assert [e.id for e in registry.all()] == ["b1gabcdefghij0123456", "trainer"]
    entry = registry.get("trainer")
    assert entry is not None and entry.image == "registry.example.com/ml:1.2"
    assert (entry.username, entry.password_secret_id, entry.registry) == ("bot", "REG-PASS", "registry.example.com")
    assert ImageRegistry(store, "p2").all() == []  # per project
    assert registry.remove("trainer") is True and registry.remove("trainer") is False
    assert registry.get("trainer") is None


def test_resolve_tells_ids_from_image_references(store: ObjectStore) -> None:  # noqa: F811
    registry = ImageRegistry(store, "p1")
    registry.add("b1gabcdefghij0123456", "python:3.11-slim")
    found = registry.resolve("b1gabcdefghij0123456")
    assert found is not None and found.image == "python:3.11-slim"
    assert registry.resolve("python:3.11-slim") is None  # an image reference, pulled as before
    assert registry.resolve("ubuntu") is None
    with pytest.raises(ImageRegistryError, match=r"unknown project image 'b1g0000000000000000x'.*docker-image add"):
        registry.resolve("b1g0000000000000000x")


@pytest.mark.parametrize(
    ("image_id", "image", "kw", "message"),
    [
        ("bad id", "python:3", {}, "invalid image ID"),
        ("ok", "has space", {}, "invalid image reference"),
        ("ok", "python:3", {"password_secret_id": "S"}, "needs a username"),
    ],
)
def test_bad_entries_are_refused(store: ObjectStore, image_id: str, image: str, kw: dict, message: str) -> None:  # noqa: F811
    with pytest.raises(RegistryError, match=message):
        ImageRegistry(store, "p1").add(image_id, image, **kw)
    assert ImageRegistry(store, "p1").all() == []
