"""Streaming hashes of files and streams."""

from __future__ import annotations

import hashlib
import io
import itertools
import os
from pathlib import Path

import pytest

from airflow_provider_dsjobs.storage import hashing
from airflow_provider_dsjobs.storage.base import StoreError
from airflow_provider_dsjobs.storage.digests import hash_of
from airflow_provider_dsjobs.storage.hashing import HashingReader, HashMemo, TrailingHash, hash_file, read_hashed


def test_hash_file_matches_hashlib(tmp_path: Path) -> None:
    f = tmp_path / "f"
    data = os.urandom(3 * 1024 * 1024 + 1)
    f.write_bytes(data)
    assert hash_file(f, None) == (hash_of(data), len(data))


def test_memo_skips_recently_modified_files(tmp_path: Path) -> None:
    memo = HashMemo()
    f = tmp_path / "fresh"
    f.write_bytes(b"x")
    hash_file(f, memo)
    assert len(memo) == 0  # modified this instant: a same-tick rewrite could not be detected
    os.utime(f, (1_000_000, 1_000_000))
    hash_file(f, memo)
    assert len(memo) == 1


def test_memo_is_bounded(tmp_path: Path) -> None:
    memo = HashMemo(max_entries=2)
    for i in range(5):
        f = tmp_path / str(i)
        f.write_bytes(b"x")
        os.utime(f, (1_000_000, 1_000_000))
        hash_file(f, memo)
    assert len(memo) == 2


def test_hashing_reader_counts_and_verifies() -> None:
    reader = HashingReader(io.BytesIO(b"hello world"))
    assert reader.read(5) + reader.read() == b"hello world"
    assert reader.size == 11 and reader.sha256 == hash_of(b"hello world")
    assert not reader.seekable()
    bad = HashingReader(io.BytesIO(b"tampered"), expected_sha256=hashlib.sha256(b"original").hexdigest())
    with pytest.raises(StoreError, match="corrupt"):
        while bad.read(3):
            pass


def test_unreadable_file_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot read"):
        hash_file(tmp_path / "missing")


def test_read_hashed_returns_the_bytes_it_hashed_and_records_them(tmp_path: Path) -> None:
    f = tmp_path / "f"
    data = os.urandom(200 * 1024 + 3)
    f.write_bytes(data)
    os.utime(f, (1_000_000, 1_000_000))  # old enough to be memoised
    memo = HashMemo()
    content, sha, st = read_hashed(f, memo)
    assert (content, sha, st.st_size) == (data, hash_of(data), len(data))
    assert hash_file(f, memo)[0] == sha and memo.hits == 1  # recorded: the next look-up reads nothing
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert read_hashed(empty, None)[:2] == (b"", hash_of(b""))


def test_read_hashed_refuses_a_file_that_grows_while_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "log"
    f.write_bytes(b"first line\n")
    real_stat = os.stat
    calls = []

    def stat_then_append(path: object, *args: object, **kwargs: object) -> os.stat_result:
        calls.append(path)
        if len(calls) == 1:  # fault: a writer appends right after the stat taken before the read
            result = real_stat(path)  # type: ignore[arg-type]
            with open(f, "ab") as out:
                out.write(b"second line\n")
            return result
        return real_stat(path)  # type: ignore[arg-type]

    monkeypatch.setattr(hashing.os, "stat", stat_then_append)
    with pytest.raises(StoreError, match=f"{f} changed while it was being read: retry when nothing writes to it"):
        read_hashed(f, None)


@pytest.mark.parametrize("mappable", [True, False], ids=["mmap", "pread"])
def test_trailing_hash_of_a_file_written_in_uneven_steps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mappable: bool
) -> None:
    """Steps that end off a page boundary, windows smaller than a step, and a file system that cannot map files
    (the pread path) all give the plain SHA-256 of what was written."""
    if not mappable:

        def cannot_map(*args: object, **kwargs: object) -> None:
            raise OSError(19, "No such device")  # fault: what mmap raises on a file system without mappings

        monkeypatch.setattr(hashing.mmap, "mmap", cannot_map)
    monkeypatch.setattr(hashing, "_HASH_WINDOW", 64 * 1024)
    data = os.urandom(300 * 1024 + 7)
    steps = [0, 1, 4097, 100_000, 250_001, len(data)]
    with open(tmp_path / "copy", "w+b") as out, TrailingHash(out.fileno()) as hasher:
        for start, end in itertools.pairwise(steps):
            out.write(data[start:end])
            out.flush()
            hasher.add(start, end - start)
        assert (hasher.content_id(), hasher.size) == (hash_of(data), len(data))
