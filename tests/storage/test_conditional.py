"""Conditional writes and paged key listings on both backends (the local store and S3 on the moto server): what
``JobStore.update`` rests on. An S3 endpoint that ignores If-Match / If-None-Match is played by dropping those
headers from the requests (a fault injected into the real client)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from airflow_provider_dsjobs.storage.base import ObjectNotFound, ObjectStore, PreconditionFailed
from airflow_provider_dsjobs.storage.local import LocalStore
from airflow_provider_dsjobs.storage.s3 import S3Store
from tests.storage.stores import make_s3_store


def test_if_none_match_creates_once(store: ObjectStore) -> None:
    version = store.put_bytes_if("a/record.json", b"one", if_none_match=True)
    with pytest.raises(PreconditionFailed):
        store.put_bytes_if("a/record.json", b"two", if_none_match=True)
    assert store.get_with_version("a/record.json") == (b"one", version)


def test_if_match_writes_only_the_version_read(store: ObjectStore) -> None:
    store.put_bytes("r.json", b"v1")
    _, v1 = store.get_with_version("r.json")
    v2 = store.put_bytes_if("r.json", b"v2", if_match=v1)
    with pytest.raises(PreconditionFailed):  # a writer that read v1 lost: the object is v2 now
        store.put_bytes_if("r.json", b"stale", if_match=v1)
    assert store.get_with_version("r.json") == (b"v2", v2)
    v3 = store.put_bytes_if("r.json", b"v3", if_match=v2)
    assert v3 != v2 and store.get_bytes("r.json") == b"v3"


def test_if_match_on_a_missing_object_fails(store: ObjectStore) -> None:
    with pytest.raises(PreconditionFailed):
        store.put_bytes_if("nothing.json", b"x", if_match='"0123"')
    with pytest.raises(ObjectNotFound):
        store.get_with_version("nothing.json")


def test_list_keys_pages_in_key_order_and_skips_deeper_keys(store: ObjectStore) -> None:
    for name in ("c", "a", "e", "b", "d"):
        store.put_bytes(f"idx/{name}", b"")
    store.put_bytes("idx/sub/deeper", b"")
    store.put_bytes_if("idx/a", b"x", if_match=store.get_with_version("idx/a")[1])  # leaves a lock file locally
    first = store.list_keys("idx/", limit=2)
    assert first == ["idx/a", "idx/b"]
    assert store.list_keys("idx/", start_after=first[-1], limit=10) == ["idx/c", "idx/d", "idx/e"]
    assert store.list_keys("none/") == []


def test_the_local_lock_file_is_never_listed(local_store: LocalStore) -> None:
    local_store.put_bytes_if("j/record.json", b"x", if_none_match=True)
    assert [i.key for i in local_store.list("j/")] == ["j/record.json"]
    assert list(local_store.list_children("j/")) == ["record.json"]


def test_moto_honours_conditional_writes(s3_store: S3Store) -> None:
    s3_store.put_bytes_if("x.json", b"1", if_none_match=True)
    assert s3_store.conditional_writes is True


def _ignoring_conditions(store: S3Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fault: the endpoint ignores If-Match / If-None-Match (an S3-compatible store without conditional writes)."""
    real = store._client.put_object

    def put_object(**kwargs: Any) -> Any:
        kwargs.pop("IfMatch", None)
        kwargs.pop("IfNoneMatch", None)
        return real(**kwargs)

    monkeypatch.setattr(store._client, "put_object", put_object)


def test_an_endpoint_without_conditional_writes_is_detected_and_compared_before_writing(
    s3_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    store = make_s3_store(s3_env)
    _ignoring_conditions(store, monkeypatch)
    with caplog.at_level(logging.WARNING):
        v1 = store.put_bytes_if("r.json", b"v1", if_none_match=True)
    assert store.conditional_writes is False
    assert "does not honour conditional writes" in caplog.text and "compare-then-write" in caplog.text
    with pytest.raises(PreconditionFailed):  # still refused: compared by a read just before the write
        store.put_bytes_if("r.json", b"again", if_none_match=True)
    v2 = store.put_bytes_if("r.json", b"v2", if_match=v1)
    with pytest.raises(PreconditionFailed):
        store.put_bytes_if("r.json", b"stale", if_match=v1)
    assert store.get_with_version("r.json") == (b"v2", v2)
    caplog.clear()
    store.put_bytes_if("r.json", b"v3", if_match=v2)
    assert "conditional" not in caplog.text  # warned once per store
