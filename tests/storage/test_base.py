"""The ObjectStore contract, checked on both backends (LocalStore and S3Store on a real moto endpoint)."""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

import pytest

from airflow_provider_dsjobs.storage.base import ObjectNotFound, ObjectStore, StoreError


def test_bytes_round_trip_and_size(store: ObjectStore) -> None:
    assert not store.exists("a/b.json")
    assert store.size("a/b.json") is None
    store.put_bytes("a/b.json", b'{"x": 1}')
    assert store.exists("a/b.json")
    assert store.size("a/b.json") == 8
    assert store.get_bytes("a/b.json") == b'{"x": 1}'


def test_overwrite_replaces_content(store: ObjectStore) -> None:
    store.put_bytes("k", b"old content that is longer")
    store.put_bytes("k", b"new")
    assert store.get_bytes("k") == b"new"
    assert store.size("k") == 3


def test_readers_never_see_a_partial_object_during_overwrites(store: ObjectStore) -> None:
    old, new = b"A" * 200_000, b"B" * 300_000
    store.put_bytes("doc", old)
    seen: set[bytes] = set()
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            seen.add(store.get_bytes("doc"))

    thread = threading.Thread(target=reader)
    thread.start()
    for _ in range(5):
        store.put_bytes("doc", new)
        store.put_bytes("doc", old)
    stop.set()
    thread.join()
    assert seen <= {old, new}
    assert seen


def test_file_round_trip_with_progress(store: ObjectStore, tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    payload = os.urandom(3 * 1024 * 1024 + 17)
    src.write_bytes(payload)
    sent: list[int] = []
    store.put_file("files/src.bin", src, sent.append)
    assert sum(sent) == len(payload)
    assert store.size("files/src.bin") == len(payload)

    dest = tmp_path / "out" / "deep" / "copy.bin"
    received: list[int] = []
    store.get_file("files/src.bin", dest, received.append)
    assert dest.read_bytes() == payload
    assert sum(received) == len(payload)
    assert [p.name for p in dest.parent.iterdir()] == ["copy.bin"]  # no temporary file left behind


def test_multipart_upload_of_a_larger_file(store: ObjectStore, tmp_path: Path) -> None:
    # 12 MiB with 5 MiB parts on S3: three parts, uploaded concurrently.
    src = tmp_path / "big.bin"
    payload = os.urandom(12 * 1024 * 1024 + 5)
    src.write_bytes(payload)
    store.put_file("big.bin", src)
    assert store.size("big.bin") == len(payload)
    with store.open_read("big.bin") as fh:
        assert fh.read() == payload


def test_stream_of_unknown_length(store: ObjectStore) -> None:
    class Pipe(io.RawIOBase):
        """A non-seekable stream, like a container's stdout."""

        def __init__(self, chunks: list[bytes]) -> None:
            self.chunks = chunks

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            if not self.chunks:
                return 0
            chunk = self.chunks.pop(0)
            buffer[: len(chunk)] = chunk
            return len(chunk)

    chunks = [os.urandom(64 * 1024) for _ in range(20)]
    expected = b"".join(chunks)
    store.put_stream("streams/log.txt", io.BufferedReader(Pipe(list(chunks))))
    assert store.get_bytes("streams/log.txt") == expected


def test_open_read_streams_in_pieces(store: ObjectStore) -> None:
    store.put_bytes("r", bytes(range(256)) * 10)
    with store.open_read("r") as fh:
        assert fh.read(10) == bytes(range(10))
        rest = fh.read()
    assert len(rest) == 2550


def test_list_is_recursive_sorted_and_prefix_based(store: ObjectStore) -> None:
    for key in ["p/b/2", "p/a.txt", "p/a/1", "p/b/1", "q/x", "p2/y"]:
        store.put_bytes(key, key.encode())
    assert [i.key for i in store.list("p/")] == ["p/a.txt", "p/a/1", "p/b/1", "p/b/2"]
    assert [i.key for i in store.list("p")] == ["p/a.txt", "p/a/1", "p/b/1", "p/b/2", "p2/y"]
    assert [i.key for i in store.list("p/b/")] == ["p/b/1", "p/b/2"]
    assert list(store.list("nothing/")) == []
    info = next(iter(store.list("q/")))
    assert info.size == 3
    assert info.modified is not None and info.modified.tzinfo is not None


def test_delete_is_idempotent(store: ObjectStore) -> None:
    store.put_bytes("d/x", b"1")
    store.delete("d/x")
    assert not store.exists("d/x")
    store.delete("d/x")
    store.delete("never/was")
    assert list(store.list("d/")) == []


def test_missing_key_errors_are_one_line_and_name_the_key(store: ObjectStore, tmp_path: Path) -> None:
    for call in (
        lambda: store.get_bytes("missing/key"),
        lambda: store.open_read("missing/key"),
        lambda: store.get_file("missing/key", tmp_path / "x"),
    ):
        with pytest.raises(ObjectNotFound) as err:
            call()
        message = str(err.value)
        assert "missing/key" in message and "\n" not in message
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "a//b", "./a", "a\x00b"])
def test_invalid_keys_are_rejected(store: ObjectStore, key: str) -> None:
    with pytest.raises(StoreError, match="invalid object key"):
        store.put_bytes(key, b"x")


def test_a_backslash_in_a_key_is_part_of_the_name(store: ObjectStore) -> None:
    store.put_bytes("d/..\\..\\esc.txt", b"1")
    store.put_bytes("d/a\\b.txt", b"2")
    assert sorted(i.key for i in store.list("d/")) == ["d/..\\..\\esc.txt", "d/a\\b.txt"]
    assert store.get_bytes("d/a\\b.txt") == b"2" and not store.exists("d/a/b.txt")


def test_uri_names_the_object(store: ObjectStore) -> None:
    uri = store.uri("a/b")
    assert uri.startswith(store.url) and uri.endswith("/a/b")


def test_list_children_is_one_level(store: ObjectStore) -> None:
    for key in ["r/a/1", "r/a/2/deep", "r/b.txt", "r/c/x", "rx/y"]:
        store.put_bytes(key, b"1")
    list_children = getattr(store, "list_children")  # noqa: B009 - optional, not in the protocol
    assert list(list_children("r/")) == ["a/", "b.txt", "c/"]
    assert list(list_children("r/a/")) == ["1", "2/"]
    assert list(list_children("missing/")) == []
    assert list(list_children("")) == ["r/", "rx/"]


def test_empty_object(store: ObjectStore, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    store.put_file("e", empty)
    assert store.size("e") == 0 and store.get_bytes("e") == b""
    store.get_file("e", tmp_path / "back")
    assert (tmp_path / "back").read_bytes() == b""
