"""Output publication: files under a readable prefix, the manifest as the commit point, safe paths."""

from __future__ import annotations

import hashlib
import io
import os
import threading
from pathlib import Path

import pytest

from airflow_provider_dsjobs.storage.base import ObjectStore, StoreError
from airflow_provider_dsjobs.storage.outputs import OutputWriter, read_manifest

PREFIX = "projects/p/jobs/j1/outputs"


def test_files_keep_their_paths_and_hashes(store: ObjectStore, tmp_path: Path) -> None:
    writer = OutputWriter(store, PREFIX + "/")
    payload = os.urandom(300_000)
    sha, size = writer.put_stream("model/weights.bin", io.BytesIO(payload))
    assert (sha, size) == (hashlib.sha256(payload).hexdigest(), len(payload))
    assert store.get_bytes(f"{PREFIX}/model/weights.bin") == payload

    local = tmp_path / "r.txt"
    local.write_bytes(b"report")
    assert writer.put_file("./reports//r.txt", local) == (hashlib.sha256(b"report").hexdigest(), 6)
    assert store.get_bytes(f"{PREFIX}/reports/r.txt") == b"report"


def test_a_larger_stream_goes_up_in_parts_and_hashes_right(store: ObjectStore) -> None:
    class Source(io.RawIOBase):
        """12 MB generated on the fly: never whole in memory on our side."""

        def __init__(self) -> None:
            self.left = 12_000_000

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            n = min(len(buffer), self.left, 65536)
            buffer[:n] = b"\x5a" * n
            self.left -= n
            return n

    sha, size = OutputWriter(store, PREFIX).put_stream("big.bin", io.BufferedReader(Source()))
    assert size == 12_000_000
    assert sha == hashlib.sha256(b"\x5a" * 12_000_000).hexdigest()
    assert store.size(f"{PREFIX}/big.bin") == 12_000_000


def test_manifest_is_written_last_and_readers_wait_for_it(store: ObjectStore) -> None:
    writer = OutputWriter(store, PREFIX)
    assert read_manifest(store, PREFIX) is None
    entries = {}
    release = threading.Event()
    seen_before_commit: list[object] = []

    class SlowSource(io.RawIOBase):
        def __init__(self) -> None:
            self.sent = False

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            if self.sent:
                return 0
            seen_before_commit.append(read_manifest(store, PREFIX))  # a reader mid-upload
            release.wait(5)
            buffer[:4] = b"data"
            self.sent = True
            return 4

    def upload() -> None:
        entries["out.txt"] = writer.put_stream("out.txt", io.BufferedReader(SlowSource()))

    thread = threading.Thread(target=upload)
    thread.start()
    release.set()
    thread.join()
    assert seen_before_commit == [None]
    assert read_manifest(store, PREFIX) is None  # files are there, but nothing is committed yet
    uri = writer.write_manifest({"files": {k: {"sha256": v[0], "size": v[1]} for k, v in entries.items()}})
    assert uri == store.uri(f"{PREFIX}/manifest.json")
    manifest = read_manifest(store, PREFIX)
    assert manifest == {"files": {"out.txt": {"sha256": hashlib.sha256(b"data").hexdigest(), "size": 4}}}
    keys = [i.key for i in store.list(PREFIX + "/")]
    assert keys == [f"{PREFIX}/manifest.json", f"{PREFIX}/out.txt"]
    with pytest.raises(StoreError, match="already committed"):
        writer.put_stream("late.txt", io.BytesIO(b"x"))


@pytest.mark.parametrize("bad", ["/etc/passwd", "../escape", "a/../../b", "a/..", "", ".", "manifest.json"])
def test_path_traversal_and_reserved_names_are_rejected(store: ObjectStore, bad: str) -> None:
    writer = OutputWriter(store, PREFIX)
    with pytest.raises(StoreError, match="invalid output path"):
        writer.put_stream(bad, io.BytesIO(b"x"))
    assert list(store.list("projects/")) == []


def test_corrupt_manifest_is_a_clear_error(store: ObjectStore) -> None:
    store.put_bytes(f"{PREFIX}/manifest.json", b"{not json")
    with pytest.raises(StoreError, match="is not valid JSON"):
        read_manifest(store, PREFIX)
