"""The persistent hash memo: a new process skips re-reading unchanged inputs; anything else is hashed again."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from airflow_provider_dsjobs.settings import Settings
from airflow_provider_dsjobs.storage.digests import hash_of
from airflow_provider_dsjobs.storage.hash_cache import CACHE_FILE, PersistentHashMemo, hash_memo_for, persistent_memo
from airflow_provider_dsjobs.storage.hashing import DEFAULT_MEMO, hash_file, stat_key

REPO = Path(__file__).resolve().parents[2]
OLD = (1_000_000, 1_000_000)  # an mtime long past: not "racy"

#: Stages one file into a local store with the memo a JobService would use, in a fresh interpreter, and
#: reports the bytes this process read from files while staging (Linux ``/proc/self/io``: every read() call).
STAGE_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from airflow_provider_dsjobs.settings import Settings
    from airflow_provider_dsjobs.storage.cas import InputStager
    from airflow_provider_dsjobs.storage.hash_cache import hash_memo_for
    from airflow_provider_dsjobs.storage.local import LocalStore

    def rchar():
        for line in open("/proc/self/io"):
            if line.startswith("rchar:"):
                return int(line.split()[1])

    home, store_root, target = sys.argv[1:4]
    memo = hash_memo_for(Settings(home=Path(home)))
    stager = InputStager(LocalStore(Path(store_root)), "proj", memo=memo)
    before = rchar()
    staged = stager.stage(Path(target))
    read = rchar() - before
    stager.release()
    print(json.dumps({"read": read, "uploaded": stager.stats.bytes_uploaded, "sha256": staged.sha256,
                      "disk_hits": memo.disk_hits}))
    """
)


def _stage_in_new_process(home: Path, store: Path, target: Path) -> dict[str, int | str]:
    done = subprocess.run(
        [sys.executable, "-c", STAGE_SCRIPT, str(home), str(store), str(target)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, int | str] = json.loads(done.stdout)
    return result


def _old_file(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    os.utime(path, OLD)
    return path


def _hash_and_flush(f: Path, memo: PersistentHashMemo) -> str:
    """What a stager does: hash, then flush the memo once its files are hashed."""
    sha = hash_file(f, memo)[0]
    memo.flush()
    return sha


def _rows(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        (count,) = conn.execute("SELECT count(*) FROM hashes").fetchone()
    return int(count)


def test_a_second_process_does_not_read_an_unchanged_input(tmp_path: Path) -> None:
    size = 4 * 1024 * 1024
    data = os.urandom(size)
    target = _old_file(tmp_path / "input.bin", data)
    first = _stage_in_new_process(tmp_path / "home", tmp_path / "store", target)
    assert first["uploaded"] == size and first["disk_hits"] == 0
    assert int(first["read"]) >= size  # hashed (and copied into the store)
    second = _stage_in_new_process(tmp_path / "home", tmp_path / "store", target)
    assert second["sha256"] == first["sha256"] == hash_of(data)
    assert second["uploaded"] == 0 and second["disk_hits"] == 1
    assert int(second["read"]) < size // 8, f"the second process read {second['read']} bytes of a {size} B input"


def test_a_rewritten_file_is_hashed_again_even_with_size_and_mtime_put_back(tmp_path: Path) -> None:
    db = tmp_path / "cache" / CACHE_FILE
    f = _old_file(tmp_path / "f", b"abc")
    assert _hash_and_flush(f, PersistentHashMemo(db)) == hash_of(b"abc")
    assert _rows(db) == 1
    time.sleep(0.05)  # let ctime move past the recorded one even on a coarse filesystem clock
    _old_file(f, b"abd")  # same inode, size and mtime: only ctime tells
    assert _hash_and_flush(f, PersistentHashMemo(db)) == hash_of(b"abd")
    _old_file(f, b"longer")
    fresh = PersistentHashMemo(db)  # a new process: nothing in memory
    assert hash_file(f, fresh)[0] == hash_of(b"longer")
    assert fresh.disk_hits == 0


def test_an_unchanged_file_is_answered_from_disk_by_a_new_memo(tmp_path: Path) -> None:
    db = tmp_path / "cache" / CACHE_FILE
    f = _old_file(tmp_path / "f", b"content")
    _hash_and_flush(f, PersistentHashMemo(db))
    fresh = PersistentHashMemo(db)
    assert fresh.get(stat_key(f.absolute(), f.stat())) == hash_of(b"content")
    assert fresh.disk_hits == 1


def test_recently_modified_files_are_not_recorded(tmp_path: Path) -> None:
    db = tmp_path / "cache" / CACHE_FILE
    f = tmp_path / "fresh"
    f.write_bytes(b"x")
    memo = PersistentHashMemo(db)
    hash_file(f, memo)
    memo.flush()
    assert not db.exists() or _rows(db) == 0


@pytest.mark.parametrize("damage", ["garbage", "torn pages", "empty"])
def test_a_damaged_cache_is_ignored_and_rebuilt(tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture) -> None:
    db = tmp_path / "cache" / CACHE_FILE
    files = [_old_file(tmp_path / f"f{i}", f"data {i}".encode()) for i in range(50)]
    memo = PersistentHashMemo(db)
    for f in files:
        hash_file(f, memo)
    memo.close()
    raw = db.read_bytes()
    if damage == "garbage":
        db.write_bytes(b"this is not an sqlite database\n" * 200)
    elif damage == "torn pages":  # keep the valid header, scribble over the table's pages
        db.write_bytes(raw[:100] + os.urandom(len(raw) - 100))
    else:
        db.write_bytes(b"")
    fresh = PersistentHashMemo(db)
    for f in files:  # never an error: a miss, then the right hash
        assert hash_file(f, fresh)[0] == hash_of(f.read_bytes())
    fresh.close()
    if damage != "empty":  # an empty file is simply a new database
        assert any("damaged" in r.getMessage() and "rebuilding" in r.getMessage() for r in caplog.records)
    again = PersistentHashMemo(db)  # rebuilt: a later process gets hits again
    assert again.get(stat_key(files[0].absolute(), files[0].stat())) is not None
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_an_unusable_cache_location_is_not_an_error(tmp_path: Path) -> None:
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "cache").write_text("a file where the cache directory should be")
    memo = hash_memo_for(Settings(home=tmp_path / "home"))
    f = _old_file(tmp_path / "f", b"abc")
    assert hash_file(f, memo)[0] == hash_of(b"abc")
    memo.flush()
    assert hash_file(f, memo)[0] == hash_of(b"abc")  # the in-process memo still works
    assert memo.hits == 1


def test_the_cache_is_bounded(tmp_path: Path) -> None:
    db = tmp_path / "cache" / CACHE_FILE
    memo = PersistentHashMemo(db, max_entries=100)
    for i in range(350):
        memo.put((f"/nowhere/{i}", 1, OLD[1] * 10**9, i, 1, 0), "blake3:" + "00" * 32)
    memo.flush()
    assert 0 < _rows(db) <= 100
    # One row per path: a file's new content replaces its old row.
    memo.put(("/nowhere/349", 2, OLD[1] * 10**9, 349, 1, 5), "blake3:" + "11" * 32)
    memo.flush()
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM hashes WHERE path = ?", (b"/nowhere/349",)).fetchone()[0] == 1


WRITER_SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from airflow_provider_dsjobs.storage.hash_cache import PersistentHashMemo

    db, worker, n = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    memo = PersistentHashMemo(db)
    for i in range(n):
        memo.put((f"/w{worker}/{i}", i, 10**18, i, worker, i), "blake3:" + f"{worker:02x}{i % 256:02x}" * 16)
        if i % 50 == 0:
            memo.flush()
            memo.get((f"/w{(worker + 1) % 4}/{i}", i, 10**18, i, (worker + 1) % 4, i))  # read while others write
    memo.close()
    print(memo.disk_hits)
    """
)


def test_concurrent_writers_do_not_corrupt_the_cache(tmp_path: Path) -> None:
    db = tmp_path / "cache" / CACHE_FILE
    n = 1500
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER_SCRIPT, str(db), str(w), str(n)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(4)
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert "Traceback" not in err
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # A writer that found the file busy skips a batch rather than wait forever; here each waits long enough.
    assert _rows(db) == 4 * n
    reader = PersistentHashMemo(db)
    assert reader.get(("/w2/777", 777, 10**18, 777, 2, 777)) == "blake3:" + f"{2:02x}{777 % 256:02x}" * 16


def _busy_error() -> sqlite3.OperationalError:
    exc = sqlite3.OperationalError("database is locked")
    exc.sqlite_errorcode = 5  # type: ignore[attr-defined]  # SQLITE_BUSY, as the module reads it
    return exc


def test_a_busy_answer_without_sqlite_waiting_is_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Opening a cache that other processes are creating can answer "busy" at once, skipping SQLite's own busy
    # timeout (seen in CI as one lost row out of 6000). The write must wait and land, not be dropped.
    import airflow_provider_dsjobs.storage.hash_cache as hash_cache

    db = tmp_path / "cache" / CACHE_FILE
    memo = PersistentHashMemo(db)
    real_connect = memo._connect
    refusals = iter(range(3))

    def refusing_connect() -> sqlite3.Connection:
        if next(refusals, None) is not None:
            raise _busy_error()
        return real_connect()

    monkeypatch.setattr(memo, "_connect", refusing_connect)
    memo.put(("/nowhere/a", 1, OLD[1] * 10**9, 1, 1, 0), "blake3:" + "ab" * 32)
    memo.flush()
    assert _rows(db) == 1
    assert PersistentHashMemo(db).get(("/nowhere/a", 1, OLD[1] * 10**9, 1, 1, 0)) == "blake3:" + "ab" * 32

    # A lock that outlasts the busy timeout: the batch is skipped (never an error), and the cache stays usable.
    monkeypatch.setattr(hash_cache, "_BUSY_TIMEOUT_S", 0.05)
    with sqlite3.connect(db, isolation_level=None) as holder:
        holder.execute("BEGIN EXCLUSIVE")
        stuck = PersistentHashMemo(db)
        stuck.put(("/nowhere/b", 1, OLD[1] * 10**9, 2, 1, 0), "blake3:" + "cd" * 32)
        stuck.flush()
        holder.execute("ROLLBACK")
    assert _rows(db) == 1
    stuck.put(("/nowhere/c", 1, OLD[1] * 10**9, 3, 1, 0), "blake3:" + "ef" * 32)
    stuck.flush()
    assert _rows(db) == 2


def test_settings_choose_the_memo(tmp_path: Path) -> None:
    memo = hash_memo_for(Settings(home=tmp_path / "home"))
    assert isinstance(memo, PersistentHashMemo)
    assert memo.path == (tmp_path / "home" / "cache" / CACHE_FILE).absolute()
    assert memo is persistent_memo(tmp_path / "home")  # one per home and process
    assert hash_memo_for(Settings(home=tmp_path / "home", hash_cache=False)) is DEFAULT_MEMO
    assert Settings.from_env({"DSJOBS_HOME": str(tmp_path), "DSJOBS_HASH_CACHE": "0"}).hash_cache is False
    assert Settings.from_env({"DSJOBS_HOME": str(tmp_path)}).hash_cache is True
