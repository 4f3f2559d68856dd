"""Streaming hashes of files and streams."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest

from airflow_provider_dsjobs.storage.base import StoreError
from airflow_provider_dsjobs.storage.hashing import HashingReader, HashMemo, hash_file


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
