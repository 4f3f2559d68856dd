"""What the local store, the hash cache and the CLI's secrets create is their owner's only (files 0600,
directories 0700), whatever the umask; what exists already is left as it is and keeps working."""

from __future__ import annotations

import io
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_dsjobs.resources.secrets import FileSecretStore
from airflow_provider_dsjobs.storage.hash_cache import PersistentHashMemo
from airflow_provider_dsjobs.storage.hashing import stat_key
from airflow_provider_dsjobs.storage.local import LocalStore


@pytest.fixture(params=[0o000, 0o022], ids=["umask000", "umask022"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def modes(root: Path) -> dict[str, int]:
    """Every path under ``root`` (and ``root`` itself) with its permission bits."""
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        found[path.relative_to(root).as_posix()] = stat.S_IMODE(path.lstat().st_mode)
    return found


def assert_private(root: Path) -> None:
    shared = {name: oct(mode) for name, mode in modes(root).items() if mode & 0o077}
    assert not shared, f"readable by others under {root}: {shared}"
    for name, mode in modes(root).items():
        path = root / name
        assert mode == (0o700 if path.is_dir() else 0o600), (name, oct(mode))


def test_every_way_of_writing_a_local_store_is_private(umask: int, tmp_path: Path) -> None:
    source = tmp_path / "input.bin"
    source.write_bytes(os.urandom(100_000))
    source.chmod(0o644)
    root = tmp_path / "home" / "store"  # neither exists yet: both are made
    store = LocalStore(root)
    store.put_bytes("p/jobs/j1/record.json", b"{}")
    store.put_file("p/jobs/j1/outputs/input.bin", source)
    store.put_stream("p/jobs/j1/logs/stdout.txt", io.BytesIO(b"line\n"))
    copied = store.copy_in(source)
    small = store.copy_in_bytes(b"tree")
    store.commit_copies([(copied.path, "p/cas/ab/abcdef"), (small, "p/trees/cd/cdef")])
    assert store.get_bytes("p/cas/ab/abcdef") == source.read_bytes()
    assert_private(tmp_path / "home")


def test_an_existing_store_keeps_its_modes_and_works(umask: int, tmp_path: Path) -> None:
    root = tmp_path / "store"
    (root / "p").mkdir(parents=True)
    root.chmod(0o755)
    (root / "p").chmod(0o755)
    (root / "p" / "old.txt").write_text("old")
    (root / "p" / "old.txt").chmod(0o644)
    store = LocalStore(root)
    store.put_bytes("p/new.txt", b"new")
    assert store.get_bytes("p/old.txt") == b"old" and store.get_bytes("p/new.txt") == b"new"
    assert modes(root) == {".": 0o755, "p": 0o755, "p/old.txt": 0o644, "p/new.txt": 0o600}


def test_the_hash_cache_and_its_wal_are_private(umask: int, tmp_path: Path) -> None:
    data = tmp_path / "data.txt"
    data.write_text("x")
    home = tmp_path / "home"
    memo = PersistentHashMemo(home / "cache" / "hashes.sqlite3")
    key = stat_key(data, data.stat())
    memo.put(key, "blake3:" + "ab" * 32, observed_at=time.time() + 60)  # long after the write: not a racy entry
    memo.flush()
    assert memo.get(key) == "blake3:" + "ab" * 32
    assert {p.name for p in (home / "cache").iterdir()} >= {"hashes.sqlite3", "hashes.sqlite3-wal"}
    assert_private(home)
    memo.close()


def test_the_cli_secrets_file_and_home_are_private(umask: int, tmp_path: Path) -> None:
    home = tmp_path / "home"
    secrets = FileSecretStore(home, "proj")
    secrets.set("TOKEN", "s3cret")
    assert secrets.load() == {"TOKEN": "s3cret"}
    assert_private(home)
