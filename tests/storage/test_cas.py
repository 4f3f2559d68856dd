"""The content-addressed input cache on both backends: what gets uploaded, identity of trees, limits."""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dsjobs.storage import local
from airflow_provider_dsjobs.storage.base import CopiedIn, ObjectStore, StoreError
from airflow_provider_dsjobs.storage.cas import (
    BlobSource,
    InputStager,
    TreeEntry,
    blob_key,
    leases_prefix,
    load_tree,
    tree_key,
)
from airflow_provider_dsjobs.storage.digests import ContentHash, hash_of
from airflow_provider_dsjobs.storage.hashing import HashMemo
from airflow_provider_dsjobs.storage.local import PARTIAL_SUFFIX, LocalStore
from airflow_provider_dsjobs.storage.progress import TransferProgress

PROJECT = "proj"


def make_tree(root: Path, files: dict[str, bytes], order: list[str] | None = None) -> Path:
    for rel in order or list(files):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(files[rel])
    return root


FILES = {
    "a.txt": b"alpha\n",
    "sub/b.bin": os.urandom(100_000),
    "sub/deeper/c.csv": b"x,y\n1,2\n",
    "z/dup.txt": b"alpha\n",  # same content as a.txt
}


def stager(store: ObjectStore, **kwargs: object) -> InputStager:
    # A fresh memo per stager so every run really re-reads the files.
    return InputStager(store, PROJECT, memo=HashMemo(), **kwargs)  # type: ignore[arg-type]


def test_first_run_uploads_everything_once_and_rerun_uploads_nothing(store: ObjectStore, tmp_path: Path) -> None:
    data = make_tree(tmp_path / "data", FILES)
    first = stager(store)
    staged = first.stage(data)
    unique_bytes = sum(len(v) for k, v in FILES.items() if k != "z/dup.txt")
    assert staged.kind == "dir"
    assert staged.size == sum(len(v) for v in FILES.values())
    assert first.stats.files_total == 4
    assert first.stats.files_uploaded == 3  # the duplicate content went up once
    assert first.stats.bytes_uploaded == unique_bytes
    for rel, content in FILES.items():
        sha = hash_of(content)
        assert store.get_bytes(blob_key(PROJECT, sha)) == content, rel
    assert store.exists(tree_key(PROJECT, staged.sha256))

    second = stager(store)
    again = second.stage(data)
    assert again.sha256 == staged.sha256
    assert second.stats.bytes_uploaded == 0
    assert second.stats.files_uploaded == 0
    assert second.stats.bytes_total == staged.size


def test_changing_one_file_uploads_only_that_file(store: ObjectStore, tmp_path: Path) -> None:
    data = make_tree(tmp_path / "data", FILES)
    before = stager(store).stage(data)
    (data / "sub" / "deeper" / "c.csv").write_bytes(b"x,y\n3,4\n5,6\n")
    s = stager(store)
    after = s.stage(data)
    assert after.sha256 != before.sha256
    assert s.stats.files_uploaded == 1
    assert s.stats.bytes_uploaded == len(b"x,y\n3,4\n5,6\n")


def test_tree_id_ignores_mtimes_and_creation_order(store: ObjectStore, tmp_path: Path) -> None:
    one = make_tree(tmp_path / "one" / "data", FILES)
    (one / "empty").mkdir()
    first = stager(store).stage(one)
    for path in one.rglob("*"):
        os.utime(path, (1_000_000, 1_000_000))
    assert stager(store).stage(one).sha256 == first.sha256

    two = make_tree(tmp_path / "two" / "data", FILES, order=sorted(FILES, reverse=True))
    (two / "empty").mkdir()
    s = stager(store)
    assert s.stage(two).sha256 == first.sha256
    assert s.stats.bytes_uploaded == 0


def test_tree_records_empty_dirs_and_exec_bits(store: ObjectStore, tmp_path: Path) -> None:
    data = make_tree(tmp_path / "data", {"run.sh": b"#!/bin/sh\n", "lib/x.py": b"x = 1\n"})
    (data / "out" / "nested").mkdir(parents=True)
    plain = stager(store).stage(data)
    assert [(e.path, e.kind) for e in plain.entries] == [
        ("lib/x.py", "file"),
        ("out/nested", "dir"),
        ("run.sh", "file"),
    ]
    assert load_tree(store, PROJECT, plain.sha256) == plain.entries
    (data / "run.sh").chmod(0o755)
    executable = stager(store).stage(data)
    assert executable.sha256 != plain.sha256
    assert {e.path: e.mode for e in executable.entries}["run.sh"] == 0o755
    # Removing the empty dir changes the identity too: the tree describes what the job will see.
    shutil.rmtree(data / "out")
    assert stager(store).stage(data).sha256 != executable.sha256


def test_stored_tree_is_the_canonical_json_whose_hash_is_its_id(store: ObjectStore, tmp_path: Path) -> None:
    staged = stager(store).stage(make_tree(tmp_path / "d", {"b": b"2", "a": b"1"}))
    raw = store.get_bytes(tree_key(PROJECT, staged.sha256))
    assert hashlib.sha256(raw).hexdigest() == staged.sha256  # tree ids stay SHA-256 (store format 2 too)
    assert [e["path"] for e in json.loads(raw)] == ["a", "b"]
    assert set(json.loads(raw)[0]) == {"path", "kind", "sha256", "size", "mode"}


def test_single_file_input(store: ObjectStore, tmp_path: Path) -> None:
    f = tmp_path / "main.py"
    f.write_bytes(b"print('hi')\n")
    s = stager(store)
    staged = s.stage(f)
    assert staged.kind == "file"
    assert staged.sha256 == hash_of(b"print('hi')\n")
    assert staged.entries == [TreeEntry("main.py", "file", staged.sha256, 12, 0o644)]
    assert staged.local_hints() == {staged.sha256: f}
    assert s.stats.bytes_uploaded == 12


def test_large_file_streams_through_multipart(store: ObjectStore, tmp_path: Path) -> None:
    # Local: 40 MB. S3 (moto): 12 MB, multipart with 5 MiB parts — moto holds several copies in memory.
    size = 40_000_000 if store.url.startswith("file:") else 12_000_000
    big = tmp_path / "big.bin"
    digest = ContentHash()
    with open(big, "wb") as fh:
        for i in range(size // 1_000_000):
            chunk = bytes([i % 256]) * 999_999 + os.urandom(1)
            fh.write(chunk)
            digest.update(chunk)
    s = stager(store)
    staged = s.stage(big)
    assert staged.sha256 == digest.content_id()
    assert store.size(blob_key(PROJECT, staged.sha256)) == size
    check = ContentHash()
    with BlobSource(store, PROJECT).open(staged.sha256) as fh:
        while chunk := fh.read(1024 * 1024):
            check.update(chunk)
    assert check.content_id() == staged.sha256


def test_file_limit_rejects_before_any_upload(store: ObjectStore, tmp_path: Path) -> None:
    data = make_tree(tmp_path / "data", {"small.txt": b"ok", "huge.bin": b"x" * 2000})
    with pytest.raises(StoreError) as err:
        stager(store, max_file_size=1000).stage(data)
    assert str(err.value) == f"input file {data / 'huge.bin'} is 2.0 KiB, over the limit of 1000 B per file"
    assert list(store.list("projects/")) == []


def test_total_limit_covers_all_inputs_of_a_job(store: ObjectStore, tmp_path: Path) -> None:
    a = tmp_path / "a.bin"
    b = tmp_path / "b.bin"
    a.write_bytes(b"1" * 600)
    b.write_bytes(b"2" * 600)
    with pytest.raises(StoreError, match=r"inputs total 1.2 KiB .*over the limit of 1000 B"):
        stager(store, max_total_size=1000).stage_all([a, b])
    assert list(store.list("projects/")) == []


def test_missing_and_odd_inputs_are_clear_errors(store: ObjectStore, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"input .*nope does not exist"):
        stager(store).stage(tmp_path / "nope")
    loop = tmp_path / "loop"
    loop.mkdir()
    (loop / "self").symlink_to(loop)
    with pytest.raises(StoreError, match="symlink loop"):
        stager(store).stage(loop)
    dangling = tmp_path / "dangling"
    dangling.mkdir()
    (dangling / "gone").symlink_to(tmp_path / "missing-target")
    with pytest.raises(StoreError, match="dangling symlink"):
        stager(store).stage(dangling)


def test_symlinked_files_are_staged_by_content(store: ObjectStore, tmp_path: Path) -> None:
    target = tmp_path / "real.txt"
    target.write_bytes(b"real")
    data = tmp_path / "d"
    data.mkdir()
    (data / "link.txt").symlink_to(target)
    staged = stager(store).stage(data)
    assert staged.entries[0].sha256 == hash_of(b"real")


def test_progress_lines_when_not_a_terminal(store: ObjectStore, tmp_path: Path) -> None:
    data = make_tree(tmp_path / "data", FILES)
    out = io.StringIO()
    InputStager(store, PROJECT, TransferProgress("upload", out), memo=HashMemo()).stage(data)
    lines = out.getvalue().splitlines()
    assert lines[0] == "uploading 3 files (97.7 KiB)…"
    assert lines[1].startswith("uploaded 97.7 KiB in ")
    out = io.StringIO()
    InputStager(store, PROJECT, TransferProgress("upload", out), memo=HashMemo()).stage(data)
    assert out.getvalue() == "no files to upload\n"


def test_lease_protects_staged_ids_until_released(store: ObjectStore, tmp_path: Path) -> None:
    s = stager(store)
    staged = s.stage(make_tree(tmp_path / "d", {"f": b"content"}))
    assert s.lease_key is not None and s.lease_key.startswith(leases_prefix(PROJECT))
    ids = json.loads(store.get_bytes(s.lease_key))["ids"]
    assert set(ids) == {staged.sha256, staged.entries[0].sha256}
    key = s.lease_key
    s.release()
    assert not store.exists(key)


def test_a_file_rewritten_during_upload_is_not_left_under_a_wrong_hash(
    store: ObjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = tmp_path / "f.txt"
    f.write_bytes(b"version 1")
    v1 = blob_key(PROJECT, hash_of(b"version 1"))
    # How each backend takes in a small file: the local store writes its copy from the very bytes it hashed (named
    # later, in one batch); S3 uploads the file by path after hashing it.
    method = "copy_in_bytes" if isinstance(store, LocalStore) else "put_file"
    original = getattr(store, method)

    def upload_then_rewrite(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        f.write_bytes(b"version 2, longer")  # fault: a writer touches the file mid-staging
        return result

    monkeypatch.setattr(store, method, upload_then_rewrite)
    if isinstance(store, LocalStore):  # one read: the blob is the version that was read, whatever happens after
        staged = stager(store).stage(f)
        assert staged.sha256 == hash_of(b"version 1")
        assert store.get_bytes(v1) == b"version 1"
    else:  # a second read (the upload) saw other bytes: nothing stays under the first read's hash
        with pytest.raises(StoreError, match="changed while it was being uploaded"):
            stager(store).stage(f)
        assert not store.exists(v1)
    assert _leftovers(store) == []


def test_memo_avoids_rehashing_unchanged_files(store: ObjectStore, tmp_path: Path) -> None:
    f = tmp_path / "f.bin"
    f.write_bytes(b"abc")
    os.utime(f, (1_000_000, 1_000_000))  # old enough to be memoised
    memo = HashMemo()
    InputStager(store, PROJECT, memo=memo).stage(f)
    assert len(memo) == 1
    # Same size and mtime but different bytes would fool a stat memo; a real edit changes mtime, which we honour.
    f.write_bytes(b"abd")
    os.utime(f, (2_000_000, 2_000_000))
    assert InputStager(store, PROJECT, memo=memo).stage(f).sha256 == hash_of(b"abd")


def test_blob_source_prefers_the_unchanged_local_file(store: ObjectStore, tmp_path: Path) -> None:
    data = make_tree(tmp_path / "data", {"x.txt": b"local copy"})
    staged = stager(store).stage(data)
    sha = staged.entries[0].sha256
    assert sha is not None
    store.delete(blob_key(PROJECT, sha))  # only the local file can serve it now
    source = BlobSource(store, PROJECT, staged.local_hints(), memo=HashMemo())
    with source.open(sha, size=10) as fh:
        assert fh.read() == b"local copy"
    (data / "x.txt").write_bytes(b"edited since staging")
    with pytest.raises(StoreError, match="missing from"):
        source.open(sha, size=10)


def test_blob_source_detects_a_corrupt_blob(store: ObjectStore, tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"good")
    sha = stager(store).stage(f).sha256
    store.put_bytes(blob_key(PROJECT, sha), b"evil")
    with pytest.raises(StoreError, match="corrupt"), BlobSource(store, PROJECT).open(sha) as fh:
        fh.read()


def test_load_tree_errors(store: ObjectStore, tmp_path: Path) -> None:
    staged = stager(store).stage(make_tree(tmp_path / "d", {"a": b"1"}))
    store.put_bytes(tree_key(PROJECT, staged.sha256), b"[]")
    with pytest.raises(StoreError, match="corrupt"):
        BlobSource(store, PROJECT).load_tree(staged.sha256)
    with pytest.raises(StoreError, match="missing"):
        load_tree(store, PROJECT, "0" * 64)


def test_invalid_project_name(store: ObjectStore) -> None:
    with pytest.raises(StoreError, match=r"invalid project name '\.\./x'"):
        InputStager(store, "../x")


def test_empty_file_and_empty_directory_inputs(store: ObjectStore, tmp_path: Path) -> None:
    empty_file = tmp_path / "empty.txt"
    empty_file.write_bytes(b"")
    empty_dir = tmp_path / "nothing"
    empty_dir.mkdir()
    s = stager(store)
    f, d = s.stage_all([empty_file, empty_dir])
    assert f.sha256 == hash_of(b"") and f.size == 0
    assert store.get_bytes(blob_key(PROJECT, f.sha256)) == b""
    assert d.kind == "dir" and d.entries == [] and d.size == 0
    assert load_tree(store, PROJECT, d.sha256) == []
    assert s.stats.files_total == 1


def _leftovers(store: ObjectStore) -> list[Path]:
    """Partial files (copies made while hashing, interrupted writes) a local store still holds."""
    return sorted(store.root.rglob(f"*{PARTIAL_SUFFIX}")) if isinstance(store, LocalStore) else []


def test_a_large_file_already_stored_is_staged_without_a_second_object(store: ObjectStore, tmp_path: Path) -> None:
    """The local store copies a large file in while hashing it; when the content turns out to be stored already,
    that copy is dropped. Either way the store ends with exactly one blob and no partial file."""
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(9 * 1024 * 1024))
    first = InputStager(store, PROJECT, memo=None)
    staged = first.stage(big)
    first.release()
    again = InputStager(store, PROJECT, memo=None)  # no memo: hashes (and, locally, copies) the file again
    assert again.stage(big).sha256 == staged.sha256
    again.release()
    assert (first.stats.bytes_uploaded, again.stats.bytes_uploaded) == (big.stat().st_size, 0)
    assert [i.key for i in store.list(f"projects/{PROJECT}/")] == [blob_key(PROJECT, staged.sha256)]
    assert store.get_bytes(blob_key(PROJECT, staged.sha256)) == big.read_bytes()
    assert _leftovers(store) == []


def test_a_large_file_rewritten_while_copied_in_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = LocalStore(tmp_path / "store")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(9 * 1024 * 1024))
    original = store.copy_in

    def copy_then_rewrite(path: Path) -> CopiedIn:
        copy = original(path)
        path.write_bytes(b"version 2")  # fault: a writer touches the file while it is staged
        return copy

    monkeypatch.setattr(store, "copy_in", copy_then_rewrite)
    with pytest.raises(StoreError, match="changed while it was being read"):
        InputStager(store, PROJECT, memo=None).stage(big)
    assert list(store.list("")) == []
    assert _leftovers(store) == []


def test_a_failed_copy_in_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_space(*args: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(local.os, "copy_file_range", no_space)
    store = LocalStore(tmp_path / "store")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(9 * 1024 * 1024))
    with pytest.raises(StoreError, match=f"cannot copy {big}: No space left on device"):
        InputStager(store, PROJECT, memo=None).stage(big)
    assert list(store.list("")) == []
    assert _leftovers(store) == []


def test_a_small_file_the_local_store_has_already_is_not_copied_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A re-run without any hash memo reads each file once to hash it, and writes nothing the store holds."""
    store = LocalStore(tmp_path / "store")
    tree = make_tree(tmp_path / "d", {"a": b"same", "b": b"same", "c": b"other"})
    first = InputStager(store, PROJECT, memo=None)
    staged = first.stage(tree)
    assert first.stats.bytes_uploaded == len(b"same") + len(b"other")  # two copies share one blob
    written: list[int] = []
    real = store.copy_in_bytes
    monkeypatch.setattr(store, "copy_in_bytes", lambda data: written.append(len(data)) or real(data))
    again = InputStager(store, PROJECT, memo=None)
    assert again.stage(tree).sha256 == staged.sha256
    assert (written, again.stats.bytes_uploaded) == ([], 0)
    assert _leftovers(store) == []
