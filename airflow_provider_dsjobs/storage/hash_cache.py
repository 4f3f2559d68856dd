"""A hash memo that survives the process: ``<home>/cache/hashes-v2.sqlite``.

Every ``dsjobs execute`` (and every Airflow task) is a new process. With only the in-process ``HashMemo``, a
re-run of an unchanged input re-reads and re-hashes every byte just to find that every blob is already stored.
``PersistentHashMemo`` keeps ``stat key → content id`` on disk so a new process skips that read. It holds the
digests of new blobs' algorithm (``digests.NEW_BLOB_ALGORITHM``, BLAKE3 since store format 2) as raw bytes;
format 1's ``hashes-v1.sqlite`` (SHA-256) is not read (a first run after the upgrade hashes its inputs again).

Why SQLite (the standard library's ``sqlite3``) and not a JSON-lines file:

- lookups are indexed: a process reads only the rows of the files it stages, not the whole cache;
- many processes may read and write at once (WAL journal: readers never block; writers wait on a short busy
  timeout), each batch of writes is one atomic transaction, and a crash mid-write leaves the old state;
- a one-row-per-path table with LRU eviction keeps the size bounded without rewriting a file by hand.

Rules:

- One row per absolute path (a file's newer content replaces its older row), evicted least recently used
  beyond ``max_entries`` (default 100 000 rows, a few tens of MB at most).
- A row is used only if all of (size, mtime_ns, inode, device, ctime_ns) equal the file's current stat;
  anything else is a miss and the file is read and hashed again. Files modified within 2 seconds of being
  looked at are never recorded (``hashing.is_racy``).
- The cache is an optimisation only: any error opening, reading or writing it is logged once and ignored; a
  file that is not a valid database (or is damaged) is deleted and rebuilt. It never fails a job.

Residual risk (the same as git's index, make and rsync's quick check): a file rewritten with the same size,
the same ``mtime_ns`` (put back with ``os.utime``/``touch -d`` or a time-preserving copy), at the same inode
on the same device, *and* with the same ``ctime_ns`` is taken as unchanged. ctime cannot be set from user
space and any write or ``utime`` updates it, so this needs the rewrite and our earlier look at the file to fall
in one ctime tick (a few milliseconds on coarse-clock filesystems), or the clock to be set back, or someone
editing the block device or this cache file (the cache is trusted like the user's own files: it lives in
their home, created ``0700``).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from airflow_provider_dsjobs.storage import digests
from airflow_provider_dsjobs.storage.hashing import DEFAULT_MEMO, HashMemo, StatKey, is_racy
from airflow_provider_dsjobs.storage.private import PRIVATE_FILE_MODE, make_private_dirs

log = logging.getLogger(__name__)

#: The file name carries the schema version, so two versions of dsjobs never rebuild each other's cache (v2: the
#: digests are ``_ALGORITHM``'s).
CACHE_FILE = "hashes-v2.sqlite"
_ALGORITHM = digests.NEW_BLOB_ALGORITHM
DEFAULT_MAX_ENTRIES = 100_000
#: Writes are batched: ``put`` flushes once this many rows wait (and ``flush``/exit write the rest).
_BATCH = 500
#: Paths per ``IN (...)`` query when preloading (under SQLite's oldest limit of 999 parameters).
_QUERY_CHUNK = 500
#: How long a writer waits for another process's transaction before skipping its own write.
_BUSY_TIMEOUT_S = 5.0
#: First and longest pause between tries when SQLite answers "busy" at once, without waiting itself.
_BUSY_RETRY_FIRST_S = 0.005
_BUSY_RETRY_MAX_S = 0.2
#: A hit refreshes the row's "last used" time only when it is older than this (most hits then write nothing).
_TOUCH_AFTER_S = 24 * 3600
#: SQLite's primary result codes for a damaged file and for a file that is not a database...
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26
#: ... and for a lock held by another connection (in another process, or in this one).
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6

_SCHEMA = """
CREATE TABLE IF NOT EXISTS hashes (
    path BLOB PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    ino INTEGER NOT NULL,
    dev INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL,
    digest BLOB NOT NULL,
    used INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS hashes_used ON hashes (used);
"""

#: Connections opened before a ``fork``: never used or closed in the child (SQLite forbids both), only kept.
_INHERITED: list[sqlite3.Connection] = []


def _is_corruption(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB)
    text = str(exc).lower()
    return "not a database" in text or "malformed" in text


def _is_busy(exc: sqlite3.Error) -> bool:
    """Another connection holds a lock (``SQLITE_BUSY``/``SQLITE_LOCKED`` and their extended codes)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED)
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc).lower()


class PersistentHashMemo(HashMemo):
    """``HashMemo`` backed by an SQLite file shared by every process of this user (see the module docstring).

    The in-process LRU stays in front of the file, so repeated lookups in one process cost what they did.
    ``disk_hits`` counts lookups answered by the file (that is, by an earlier process)."""

    def __init__(self, path: Path, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        super().__init__(max_entries)
        self.path = Path(path)
        self.max_entries = max_entries
        self.disk_hits = 0
        self._db_lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = os.getpid()
        self._disabled = False
        self._warned = False
        self._pending: dict[bytes, tuple[Any, ...]] = {}
        self._touch: set[bytes] = set()
        #: Rows fetched by ``preload`` (``None``: no row), consumed by ``get``.
        self._preloaded: dict[bytes, tuple[Any, ...] | None] = {}

    # -- HashMemo ----------------------------------------------------------------------------------------------

    def get(self, key: StatKey) -> str | None:
        sha = super().get(key)
        if sha is not None:
            return sha
        path = os.fsencode(key[0])
        with self._db_lock:
            preloaded = path in self._preloaded
            row = self._preloaded.pop(path, None)
        if not preloaded:
            row = self._run(
                lambda conn: conn.execute(
                    "SELECT size, mtime_ns, ino, dev, ctime_ns, digest, used FROM hashes WHERE path = ?", (path,)
                ).fetchone()
            )
        if not row or tuple(row[:5]) != key[1:] or not isinstance(row[5], bytes) or len(row[5]) != 32:
            return None
        sha = digests.content_id(_ALGORITHM, row[5].hex())
        self._remember(key, sha)
        with self._lock:
            self.misses -= 1
            self.hits += 1
            self.disk_hits += 1
        if isinstance(row[6], int) and row[6] < time.time() - _TOUCH_AFTER_S:
            with self._db_lock:
                self._touch.add(path)
        return sha

    def preload(self, paths: Sequence[Path]) -> None:
        """Fetch the rows of all these files in a few queries (a directory of 1000 files: 2 instead of 1000);
        ``get`` then answers from them. Replaces the previous preload."""
        names = [os.fsencode(str((p if isinstance(p, Path) else Path(p)).absolute())) for p in paths]
        found: dict[bytes, tuple[Any, ...]] = {}

        def query(conn: sqlite3.Connection) -> bool:
            for i in range(0, len(names), _QUERY_CHUNK):
                chunk = names[i : i + _QUERY_CHUNK]
                for row in conn.execute(
                    "SELECT path, size, mtime_ns, ino, dev, ctime_ns, digest, used FROM hashes "
                    f"WHERE path IN ({','.join('?' * len(chunk))})",
                    chunk,
                ):
                    found[bytes(row[0])] = tuple(row[1:])
            return True

        ok = self._run(query)
        with self._db_lock:
            self._preloaded = {name: found.get(name) for name in names} if ok else {}

    def put(self, key: StatKey, sha: str, observed_at: float | None = None) -> None:
        if is_racy(key, time.time() if observed_at is None else observed_at):
            return
        self._remember(key, sha)
        algorithm, digest = digests.parse(sha)
        if algorithm != _ALGORITHM:
            return  # only remembered in memory: the file holds one algorithm's digests
        with self._db_lock:
            self._pending[os.fsencode(key[0])] = (*key[1:], bytes.fromhex(digest))
            full = len(self._pending) >= _BATCH
        if full:
            self.flush()

    def flush(self) -> None:
        """Write the waiting rows in one transaction (skipped, and the rows dropped, if the file is unusable)."""
        with self._db_lock:
            if not self._pending and not self._touch:
                return
            rows, touch = self._pending, self._touch
            self._pending, self._touch = {}, set()
        now = int(time.time())

        def write(conn: sqlite3.Connection) -> None:
            with conn:  # one transaction: all rows or none
                conn.executemany(
                    "INSERT OR REPLACE INTO hashes (path, size, mtime_ns, ino, dev, ctime_ns, digest, used) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [(path, *values, now) for path, values in rows.items()],
                )
                conn.executemany("UPDATE hashes SET used = ? WHERE path = ?", [(now, path) for path in touch])
                if rows:
                    self._evict(conn)

        self._run(write)

    def _evict(self, conn: sqlite3.Connection) -> None:
        (count,) = conn.execute("SELECT count(*) FROM hashes").fetchone()
        excess = count - self.max_entries
        if excess > 0:  # drop a tenth more than needed, so eviction does not run on every flush
            conn.execute(
                "DELETE FROM hashes WHERE path IN (SELECT path FROM hashes ORDER BY used LIMIT ?)",
                (excess + self.max_entries // 10,),
            )

    # -- the database ------------------------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        make_private_dirs(self.path.parent)
        # Created 0600 before SQLite opens it: SQLite gives its -wal and -shm files the database's own mode.
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE))
        conn = sqlite3.connect(str(self.path), timeout=_BUSY_TIMEOUT_S, check_same_thread=False)
        try:
            # WAL lets readers and one writer work at once; NORMAL syncs at checkpoints only (a crash can lose
            # the last rows, never corrupt the file — fine for a cache).
            # The mode is stored in the file: only its first user switches it (switching needs an exclusive lock).
            if (
                conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal"
                and conn.execute("PRAGMA journal_mode=WAL").fetchone()[0].lower() != "wal"
            ):
                log.debug("hash cache %s: WAL not available, using the rollback journal", self.path)
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(_SCHEMA)
        except BaseException:
            conn.close()
            raise
        return conn

    def _db(self) -> sqlite3.Connection:
        if self._conn is not None and self._pid != os.getpid():
            _INHERITED.append(self._conn)  # forked: the parent's connection must not be touched here
            self._conn = None
        if self._conn is None:
            self._pid = os.getpid()
            self._conn = self._connect()
        return self._conn

    def _run(self, operation: Any) -> Any:
        """``operation(connection)``, or ``None`` when the cache cannot be used (never raises).

        "Busy" is retried until ``_BUSY_TIMEOUT_S`` has passed, then the operation is skipped. SQLite's own busy
        timeout covers most waits, but some busy answers come back at once without it (opening a file that
        other processes are creating or switching to WAL, a WAL being recovered); those are retried here."""
        with self._db_lock:
            if self._disabled:
                return None
            rebuilt = False
            deadline = time.monotonic() + _BUSY_TIMEOUT_S
            pause = _BUSY_RETRY_FIRST_S
            while True:
                try:
                    return operation(self._db())
                except sqlite3.Error as exc:
                    if not rebuilt and _is_corruption(exc):
                        rebuilt = True
                        self._warn(f"hash cache {self.path} is damaged ({exc}): rebuilding it")
                        self._discard_file()
                        continue
                    if _is_busy(exc):
                        if time.monotonic() + pause < deadline:
                            time.sleep(pause)
                            pause = min(pause * 2, _BUSY_RETRY_MAX_S)
                            continue
                        log.debug("hash cache %s busy: skipped (%s)", self.path, exc)
                        return None
                    self._warn(f"hash cache {self.path} unusable ({exc}): hashing without it")
                except OSError as exc:
                    self._warn(f"hash cache {self.path} unusable ({exc.strerror or exc}): hashing without it")
                self._disabled = True
                self._close()
                return None

    def _discard_file(self) -> None:
        self._close()
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(OSError):
                os.unlink(f"{self.path}{suffix}")

    def _close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None

    def _warn(self, message: str) -> None:
        if not self._warned:
            self._warned = True
            log.warning(message)
        else:
            log.debug(message)

    def close(self) -> None:
        """Flush, then close the file (a later call reopens it)."""
        self.flush()
        with self._db_lock:
            if self._pid == os.getpid():
                self._close()


_MEMOS: dict[Path, PersistentHashMemo] = {}
_MEMOS_LOCK = threading.Lock()


def persistent_memo(home: Path) -> PersistentHashMemo:
    """The process-wide memo for ``<home>/cache`` (one per home, flushed at exit)."""
    path = (Path(home).expanduser() / "cache" / CACHE_FILE).absolute()
    with _MEMOS_LOCK:
        memo = _MEMOS.get(path)
        if memo is None:
            memo = _MEMOS[path] = PersistentHashMemo(path)
            atexit.register(memo.flush)
        return memo


class HashCacheSettings(Protocol):
    """What ``hash_memo_for`` reads of the settings (``settings.Settings`` has it)."""

    @property
    def home(self) -> Path: ...

    @property
    def hash_cache(self) -> bool: ...


def hash_memo_for(settings: HashCacheSettings) -> HashMemo:
    """The memo of input files' hashes the settings ask for: persistent under ``settings.home`` (shared by every
    process using that home), or only this process's own when ``settings.hash_cache`` is off."""
    return persistent_memo(settings.home) if settings.hash_cache else DEFAULT_MEMO
