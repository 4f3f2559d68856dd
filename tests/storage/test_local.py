"""LocalStore specifics: file:// URLs, crash leftovers ignored, tidy deletes."""

from __future__ import annotations

import errno
import io
import os
import re
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dsjobs.storage import local
from airflow_provider_dsjobs.storage.base import StoreError
from airflow_provider_dsjobs.storage.digests import hash_of
from airflow_provider_dsjobs.storage.local import PARTIAL_SUFFIX, LocalStore


def test_url_and_uri_are_file_urls(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "s")
    assert store.url == (tmp_path / "s").resolve().as_uri()
    assert store.uri("a/b c") == (tmp_path / "s" / "a" / "b c").resolve().as_uri()


def test_partial_files_from_a_crash_are_not_listed(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.put_bytes("a/x", b"1")
    (tmp_path / "a" / f".x.123{PARTIAL_SUFFIX}").write_bytes(b"half")
    assert [i.key for i in store.list("a/")] == ["a/x"]


def test_delete_prunes_empty_directories_but_not_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    store = LocalStore(root)
    store.put_bytes("a/b/c/d", b"1")
    store.put_bytes("a/keep", b"1")
    store.delete("a/b/c/d")
    assert not (root / "a" / "b").exists()
    assert (root / "a" / "keep").exists()
    store.delete("a/keep")
    assert root.is_dir() and list(root.iterdir()) == []


def test_a_missing_root_lists_nothing(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "not-yet")
    assert list(store.list("")) == []
    assert not store.exists("x")


def test_two_stores_on_one_root_see_each_other(tmp_path: Path) -> None:
    LocalStore(tmp_path).put_bytes("shared", b"v")
    assert LocalStore(tmp_path).get_bytes("shared") == b"v"


def _payload_file(tmp_path: Path, size: int) -> tuple[Path, bytes]:
    payload = os.urandom(size)
    src = tmp_path / "src.bin"
    src.write_bytes(payload)
    return src, payload


def test_put_file_copies_in_kernel_steps_with_progress(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local, "KERNEL_COPY_STEP", 1024 * 1024)  # several steps for a 3.5 MiB file
    src, payload = _payload_file(tmp_path, 3 * 1024 * 1024 + 512 * 1024 + 7)
    store = LocalStore(tmp_path / "store")
    sent: list[int] = []
    store.put_file("k/blob", src, sent.append)
    assert store.get_bytes("k/blob") == payload
    assert sent == [1024 * 1024] * 3 + [512 * 1024 + 7]
    assert [p.name for p in (tmp_path / "store" / "k").iterdir()] == ["blob"]  # no partial file left


@pytest.mark.parametrize("errno_value", [errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP])
def test_put_file_falls_back_when_the_kernel_cannot_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, errno_value: int
) -> None:
    """Across filesystems on old kernels, or where copy_file_range is missing, the bytes are read and written."""

    def refuse(*args: object) -> int:
        raise OSError(errno_value, os.strerror(errno_value))

    monkeypatch.setattr(local.os, "copy_file_range", refuse)
    src, payload = _payload_file(tmp_path, 5 * 1024 * 1024 + 1)
    store = LocalStore(tmp_path / "store")
    sent: list[int] = []
    store.put_file("blob", src, sent.append)
    assert store.get_bytes("blob") == payload
    assert sum(sent) == len(payload)


def test_put_file_failing_mid_copy_leaves_no_object(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = os.copy_file_range
    calls = []

    def fail_second(*args: Any) -> int:
        calls.append(1)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*args)

    monkeypatch.setattr(local, "KERNEL_COPY_STEP", 1024 * 1024)
    monkeypatch.setattr(local.os, "copy_file_range", fail_second)
    src, _ = _payload_file(tmp_path, 3 * 1024 * 1024)
    store = LocalStore(tmp_path / "store")
    with pytest.raises(StoreError, match="No space left on device"):
        store.put_file("blob", src)
    assert not store.exists("blob")
    assert list(store.root.iterdir()) == []  # the partial file is gone too


def test_commit_copies_names_nothing_when_one_copy_cannot_be_made_durable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch is fsync'ed before any copy gets its key: a disk error on one copy leaves no object at all
    (none that could turn out half-written after a crash) and no partial file."""
    store = LocalStore(tmp_path / "store")
    sources = []
    for i in range(5):
        (tmp_path / str(i)).mkdir()
        sources.append(_payload_file(tmp_path / str(i), 1000 + i)[0])
    copies = [(store.copy_in(src).path, f"blobs/{i}") for i, src in enumerate(sources)]
    real = os.fsync
    calls = []

    def fail_third(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 3:
            raise OSError(errno.EIO, "Input/output error")
        real(fd)

    monkeypatch.setattr(local.os, "fsync", fail_third)
    with pytest.raises(StoreError, match="Input/output error"):
        store.commit_copies(copies)
    assert list(store.list("")) == []
    assert list(store.root.iterdir()) == []
    monkeypatch.setattr(local.os, "fsync", real)
    again = [(store.copy_in(src).path, f"blobs/{i}") for i, src in enumerate(sources)]
    sent: list[int] = []
    store.commit_copies(again, sent.append)
    assert [store.get_bytes(f"blobs/{i}") for i in range(5)] == [src.read_bytes() for src in sources]
    assert sorted(sent) == [1000 + i for i in range(5)]


def _failing_fsync(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make every fsync fail with EIO, recording what it was asked to sync."""
    asked: list[str] = []

    def fail(fd: int) -> None:
        asked.append(os.readlink(f"/proc/self/fd/{fd}"))
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(local.os, "fsync", fail)
    return asked


def _copy_in_batch(store: LocalStore, tmp_path: Path, keys: list[str]) -> list[tuple[Path, str]]:
    copies = []
    for i, key in enumerate(keys):
        (tmp_path / f"in{i}").mkdir()
        copies.append((store.copy_in(_payload_file(tmp_path / f"in{i}", 100 + i)[0]).path, key))
    return copies


def test_durable_store_fsyncs_before_a_put_returns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = LocalStore(tmp_path / "store")
    src, _ = _payload_file(tmp_path, 1000)
    asked = _failing_fsync(monkeypatch)
    with pytest.raises(StoreError, match="Input/output error"):
        store.put_file("a/b", src)
    assert not store.exists("a/b")  # the disk would not confirm the content: no object
    assert asked and asked[0].endswith(PARTIAL_SUFFIX)


def test_durable_store_fsyncs_each_renamed_into_directory_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = LocalStore(tmp_path / "store")
    keys = ["blobs/aa/1", "blobs/aa/2", "blobs/bb/3", "top"]
    copies = _copy_in_batch(store, tmp_path, keys)
    real = os.fsync
    synced: list[str] = []

    def record(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(local.os, "fsync", record)
    store.commit_copies(copies)
    assert [store.get_bytes(k) for k in keys] == [(tmp_path / f"in{i}/src.bin").read_bytes() for i in range(4)]
    root = store.root
    directories = [p for p in synced if not p.endswith(PARTIAL_SUFFIX)]
    # the key's directories, and the parents of the ones the batch created (their new entries; the root too)
    made = (tmp_path, root, root / "blobs", root / "blobs/aa", root / "blobs/bb")
    assert sorted(directories) == sorted(str(d) for d in made)
    assert len([p for p in synced if p.endswith(PARTIAL_SUFFIX)]) == 4  # every copy before it was named
    synced.clear()
    store.put_bytes("blobs/aa/4", b"x")
    assert synced[1:] == [str(root / "blobs/aa")]  # the object, then its directory


def test_store_without_fsync_never_syncs_and_still_writes_whole_objects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``fsync=False``: a disk that fails every fsync goes unnoticed (none is asked), on the put path and on the
    stager's copy-in path, large copies included; objects still appear only whole, under their key."""
    store = LocalStore(tmp_path / "store", fsync=False)
    asked = _failing_fsync(monkeypatch)
    src, payload = _payload_file(tmp_path, local._SYNC_ON_COPY + 5)  # large: copy_in would fsync it itself
    store.put_file("put/big", src)
    store.put_bytes("put/small", b"small")
    copies = [(store.copy_in(src).path, "blobs/big"), *_copy_in_batch(store, tmp_path, ["blobs/x/1"])]
    store.commit_copies(copies)
    assert asked == []
    assert store.get_bytes("put/big") == payload == store.get_bytes("blobs/big")
    assert store.get_bytes("put/small") == b"small"
    assert store.get_bytes("blobs/x/1") == (tmp_path / "in0/src.bin").read_bytes()
    assert [o.key for o in store.list("")] == ["blobs/big", "blobs/x/1", "put/big", "put/small"]
    assert not [p for p in store.root.rglob("*") if p.name.endswith(PARTIAL_SUFFIX)]


def test_copy_in_bytes_is_invisible_until_committed_then_whole(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")  # the root does not exist yet: the first copy makes it
    payload = os.urandom(300 * 1024)
    copies = [(store.copy_in_bytes(payload), "blobs/ab/x"), (store.copy_in_bytes(b""), "blobs/cd/empty")]
    assert list(store.list("")) == [] and not store.exists("blobs/ab/x")
    sent: list[int] = []
    store.commit_copies(copies, sent.append)
    assert store.get_bytes("blobs/ab/x") == payload and store.get_bytes("blobs/cd/empty") == b""
    assert sorted(sent) == [0, len(payload)]
    assert not [p for p in store.root.rglob("*") if p.name.endswith(PARTIAL_SUFFIX)]


def test_copy_in_bytes_failing_leaves_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = LocalStore(tmp_path / "store")
    store.put_bytes("other", b"x")

    class FullDisk(io.FileIO):
        def write(self, data: object) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(
        local, "open", lambda path, mode, buffering=-1, opener=None: FullDisk(path, mode, opener=opener), raising=False
    )
    with pytest.raises(StoreError, match=f"cannot write {store.url}: No space left on device"):
        store.copy_in_bytes(b"content")
    assert sorted(p.name for p in store.root.iterdir()) == ["other"]


@pytest.mark.parametrize("kernel", [True, False], ids=["copy_file_range", "read-write"])
def test_copy_in_hashes_exactly_what_it_copied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kernel: bool) -> None:
    """Several kernel steps (the last one short) or the read/write fallback: the handle's hash and size are
    those of the source, and the copy holds the same bytes."""
    monkeypatch.setattr(local, "KERNEL_COPY_STEP", 1024 * 1024)
    if not kernel:

        def cannot(*args: object) -> int:
            raise OSError(errno.EXDEV, "Invalid cross-device link")  # fault: the kernel cannot copy here

        monkeypatch.setattr(local.os, "copy_file_range", cannot)
    src, payload = _payload_file(tmp_path, 3 * 1024 * 1024 + 12345)
    store = LocalStore(tmp_path / "store")
    copy = store.copy_in(src)
    assert (copy.sha256, copy.size) == (hash_of(payload), len(payload))
    assert copy.path.read_bytes() == payload and copy.path.name.endswith(PARTIAL_SUFFIX)


def test_a_root_that_cannot_be_made_is_one_line_for_copies(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"x")
    store = LocalStore(tmp_path / "file" / "store")  # its parent is a file: no directory can be made there
    for copy in (lambda: store.copy_in_bytes(b"data"), lambda: store.copy_in(tmp_path / "file")):
        with pytest.raises(StoreError, match=re.escape(f"cannot write {store.url}: File exists")):
            copy()
