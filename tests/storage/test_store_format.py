"""Store format 2: new blobs are named by BLAKE3 (``blake3:<hex>``, under ``blobs/blake3/``), while blobs, trees and
records of format 1 (bare SHA-256 hex, ``blobs/sha256/``) stay valid: read, verified with SHA-256, adopted by a fork,
kept or collected by gc. A tampered blob of either kind is caught; a hostile content id never reaches a key."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import timedelta
from pathlib import Path

import blake3
import pytest

from airflow_provider_dsjobs.documents.record import InputRef, JobRecord, JobStatus, utcnow
from airflow_provider_dsjobs.jobs.gc import collect_garbage
from airflow_provider_dsjobs.jobs.store import JobStore
from airflow_provider_dsjobs.storage import digests
from airflow_provider_dsjobs.storage.base import ObjectStore, StoreError
from airflow_provider_dsjobs.storage.cas import BlobSource, InputStager, TreeEntry, blob_key, load_tree, tree_key
from airflow_provider_dsjobs.storage.hash_cache import PersistentHashMemo
from airflow_provider_dsjobs.storage.hashing import HashMemo, hash_file, stat_key
from tests.storage.stores import local_store, s3_store, store

__all__ = ["local_store", "s3_store", "store"]

PROJECT = "proj"


def _old_blob(store: ObjectStore, data: bytes) -> str:
    """A blob written the way store format 1 did: named by the bare SHA-256 hex, under ``blobs/sha256/``."""
    sha = hashlib.sha256(data).hexdigest()
    store.put_bytes(f"projects/{PROJECT}/blobs/sha256/{sha[:2]}/{sha}", data)
    return sha


def _tree(store: ObjectStore, entries: list[dict[str, object]]) -> str:
    """A tree written as format 1 did (canonical JSON, named by its SHA-256), of these entries."""
    data = json.dumps(
        sorted(entries, key=lambda e: str(e["path"])), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()
    tid = hashlib.sha256(data).hexdigest()
    store.put_bytes(f"projects/{PROJECT}/trees/{tid}.json", data)
    return tid


def _read(store: ObjectStore, content_id: str) -> bytes:
    with BlobSource(store, PROJECT, memo=None).open(content_id) as fh:
        return fh.read()


def test_new_blobs_are_named_by_blake3(store: ObjectStore, tmp_path: Path) -> None:
    data = b"new content\n" * 1000
    (tmp_path / "in.bin").write_bytes(data)
    staged = InputStager(store, PROJECT, memo=HashMemo()).stage(tmp_path / "in.bin")
    digest = blake3.blake3(data).hexdigest()
    assert staged.sha256 == f"blake3:{digest}"
    assert [i.key for i in store.list(f"projects/{PROJECT}/blobs/")] == [
        f"projects/{PROJECT}/blobs/blake3/{digest[:2]}/{digest}"
    ]
    assert _read(store, staged.sha256) == data


def test_a_large_file_is_named_by_blake3_too(store: ObjectStore, tmp_path: Path) -> None:
    """Large files take other paths (the local store's kernel copy hashed behind it; multithreaded BLAKE3)."""
    data = bytes(range(256)) * (12 * 4096 + 3)  # 12 MiB + 768 B: over the small-file limit
    (tmp_path / "big.bin").write_bytes(data)
    staged = InputStager(store, PROJECT, memo=HashMemo()).stage(tmp_path / "big.bin")
    assert staged.sha256 == "blake3:" + blake3.blake3(data).hexdigest()
    assert hash_file(tmp_path / "big.bin", None) == (staged.sha256, len(data))


def test_a_format_1_blob_is_read_and_verified(store: ObjectStore) -> None:
    sha = _old_blob(store, b"stored by an older dsjobs")
    assert _read(store, sha) == b"stored by an older dsjobs"
    store.put_bytes(blob_key(PROJECT, sha), b"stored by an older dsjobX")  # tampered: same size, one byte off
    with pytest.raises(StoreError, match=f"corrupt: its content does not match {sha}"):
        _read(store, sha)


def test_a_tampered_blake3_blob_is_detected(store: ObjectStore, tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"good content")
    content_id = InputStager(store, PROJECT, memo=HashMemo()).stage(tmp_path / "f").sha256
    store.put_bytes(blob_key(PROJECT, content_id), b"evil content")
    with pytest.raises(StoreError, match="corrupt"):
        _read(store, content_id)


def test_a_blob_stored_under_the_other_algorithm_does_not_pass_for_it(store: ObjectStore) -> None:
    """A blob copied to the other algorithm's key under the same hex is content that does not match its id."""
    sha = _old_blob(store, b"payload")
    as_blake3 = f"blake3:{sha}"
    store.put_bytes(blob_key(PROJECT, as_blake3), b"payload")
    with pytest.raises(StoreError, match="corrupt"):
        _read(store, as_blake3)


def test_a_fork_adopts_format_1_inputs_and_a_mixed_tree(store: ObjectStore, tmp_path: Path) -> None:
    """An old job's file input, and a directory whose tree names one old blob and one new one (a tree written
    after the upgrade over a blob an old job stored), are adopted and delivered, each blob checked."""
    old = _old_blob(store, b"old file")
    (tmp_path / "new.txt").write_bytes(b"new file")
    new = InputStager(store, PROJECT, memo=HashMemo()).stage(tmp_path / "new.txt").sha256
    tid = _tree(
        store,
        [
            {"path": "a/old.txt", "kind": "file", "sha256": old, "size": 8, "mode": 0o644},
            {"path": "new.txt", "kind": "file", "sha256": new, "size": 8, "mode": 0o755},
        ],
    )
    stager = InputStager(store, PROJECT, memo=HashMemo())
    assert stager.adopt("file", old, 8).sha256 == old
    adopted = stager.adopt("dir", tid, 16)
    assert [(e.path, e.sha256) for e in adopted.entries] == [("a/old.txt", old), ("new.txt", new)]
    assert load_tree(store, PROJECT, tid) == adopted.entries
    assert [_read(store, e.sha256 or "") for e in adopted.entries] == [b"old file", b"new file"]
    stager.release()


def test_restaging_after_the_upgrade_dedups_among_new_blobs(store: ObjectStore, tmp_path: Path) -> None:
    """Content an old job stored under SHA-256 is stored once more under BLAKE3 (the ids differ), then deduped."""
    _old_blob(store, b"same bytes")
    for name in ("one.txt", "two.txt"):
        (tmp_path / name).write_bytes(b"same bytes")
    stager = InputStager(store, PROJECT, memo=HashMemo())
    first, second = stager.stage_all([tmp_path / "one.txt", tmp_path / "two.txt"])
    assert first.sha256 == second.sha256 == digests.hash_of(b"same bytes")
    assert stager.stats.files_uploaded == 1
    again = InputStager(store, PROJECT, memo=HashMemo())
    again.stage(tmp_path / "one.txt")
    assert again.stats.bytes_uploaded == 0
    assert len(list(store.list(f"projects/{PROJECT}/blobs/"))) == 2  # the old blob and the new one


def test_gc_keeps_and_collects_blobs_of_both_formats(store: ObjectStore, tmp_path: Path) -> None:
    js = JobStore(store, PROJECT)
    old_live, old_dead = _old_blob(store, b"old live"), _old_blob(store, b"old dead")
    (tmp_path / "new").write_bytes(b"new live")
    new_live = InputStager(store, PROJECT, memo=HashMemo()).stage(tmp_path / "new").sha256
    (tmp_path / "gone").write_bytes(b"new dead")
    new_dead = InputStager(store, PROJECT, memo=HashMemo()).stage(tmp_path / "gone").sha256
    stranger = f"projects/{PROJECT}/blobs/md5/ab/abcdef"  # not a dsjobs blob: never deleted
    store.put_bytes(stranger, b"?")
    tid = _tree(store, [{"path": "x", "kind": "file", "sha256": new_live, "size": 8, "mode": 0o644}])
    record = JobRecord(id=js.new_job_id(), project=PROJECT)
    record.inputs = [InputRef("a", None, "file", old_live, 8), InputRef("d", None, "dir", tid, 8)]
    record.set_status(JobStatus.SUCCESS)
    js.save(record)
    for lease in store.list(f"projects/{PROJECT}/staging/"):
        store.delete(lease.key)  # the stagers above were not released: their leases would keep everything

    report = collect_garbage(js, utcnow() + timedelta(hours=2))
    assert [store.exists(blob_key(PROJECT, i)) for i in (old_live, new_live, old_dead, new_dead)] == [
        True,
        True,
        False,
        False,
    ]
    assert store.exists(tree_key(PROJECT, tid)) and store.exists(stranger)
    assert report.blobs_deleted == 2


@pytest.mark.parametrize(
    "hostile",
    [
        "",
        "blake3:../../../etc/passwd",
        "sha256:" + "a" * 64,  # format 1 ids are bare hex
        "BLAKE3:" + "a" * 64,
        "md5:" + "a" * 32,
        "blake3:" + "A" * 64,
        "blake3:blake3:" + "a" * 64,
        "a" * 63,
        "a" * 64 + "\n",
        "../" + "a" * 61,
    ],
)
def test_a_hostile_content_id_never_reaches_a_key(store: ObjectStore, hostile: str) -> None:
    with pytest.raises(StoreError, match="invalid content id"):
        blob_key(PROJECT, hostile)
    with pytest.raises(StoreError, match="invalid content id"):
        BlobSource(store, PROJECT).open(hostile)
    with pytest.raises(StoreError, match="invalid content id"):
        InputStager(store, PROJECT).adopt("file", hostile, 1)
    if not hostile:
        return  # in a tree, an empty id is an entry without a blob (an empty directory's)
    tid = _tree(store, [TreeEntry("x", "file", hostile, 1).to_doc()])
    with pytest.raises(StoreError, match="invalid content id"):
        InputStager(store, PROJECT).adopt("dir", tid, 1)


def test_keys_that_are_not_blobs_have_no_content_id() -> None:
    hexd = "ab" + "c" * 62
    assert digests.from_blob_path(f"blake3/ab/{hexd}") == f"blake3:{hexd}"
    assert digests.from_blob_path(f"sha256/ab/{hexd}") == hexd
    for path in (f"blake3/cd/{hexd}", f"md5/ab/{hexd}", f"blake3/ab/{hexd}.tmp", f"blake3/ab/x/{hexd}", "blake3/ab"):
        assert digests.from_blob_path(path) is None


def test_the_hash_cache_remembers_blake3_ids_across_processes(tmp_path: Path) -> None:
    f = tmp_path / "f.txt"
    f.write_bytes(b"cached")
    os.utime(f, (1_000_000, 1_000_000))  # old enough not to be racy
    memo = PersistentHashMemo(tmp_path / "cache.sqlite")
    assert hash_file(f, memo)[0] == digests.hash_of(b"cached")
    memo.flush()
    fresh = PersistentHashMemo(tmp_path / "cache.sqlite")
    assert fresh.get(stat_key(f.absolute(), f.stat())) == "blake3:" + blake3.blake3(b"cached").hexdigest()
    g = tmp_path / "g.txt"
    g.write_bytes(b"legacy")
    os.utime(g, (1_000_000, 1_000_000))
    fresh.put(stat_key(g.absolute(), g.stat()), hashlib.sha256(b"legacy").hexdigest())  # another algorithm's id
    fresh.flush()
    assert PersistentHashMemo(tmp_path / "cache.sqlite").get(stat_key(g.absolute(), g.stat())) is None
