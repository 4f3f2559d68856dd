"""Streaming hashes of files and streams."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest

from airflow_provider_dsjobs.storage import hashing
from airflow_provider_dsjobs.storage.base import StoreError
from airflow_provider_dsjobs.storage.hashing import HashingReader, HashMemo, hash_file, read_hashed


def test_hash_file_matches_hashlib(tmp_path: Path) -> None:
    f = tmp_path / "f"
    data = os.urandom(3 * 1024 * 1024 + 1)
    f.write_bytes(data)
    assert hash_file(f, None) == (hashlib.sha256(data).hexdigest(), len(data))


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
    assert reader.size == 11 and reader.sha256 == hashlib.sha256(b"hello world").hexdigest()
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
    assert (content, sha, st.st_size) == (data, hashlib.sha256(data).hexdigest(), len(data))
    assert hash_file(f, memo)[0] == sha and memo.hits == 1  # recorded: the next look-up reads nothing
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert read_hashed(empty, None)[:2] == (b"", hashlib.sha256(b"").hexdigest())


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
