"""LocalStore specifics: file:// URLs, crash leftovers ignored, tidy deletes."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dsjobs.storage import local
from airflow_provider_dsjobs.storage.base import StoreError
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
    copies = [(store.copy_in(src), f"blobs/{i}") for i, src in enumerate(sources)]
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
    again = [(store.copy_in(src), f"blobs/{i}") for i, src in enumerate(sources)]
    sent: list[int] = []
    store.commit_copies(again, sent.append)
    assert [store.get_bytes(f"blobs/{i}") for i in range(5)] == [src.read_bytes() for src in sources]
    assert sorted(sent) == [1000 + i for i in range(5)]
