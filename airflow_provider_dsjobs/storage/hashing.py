"""Streaming content hashes (``digests.py`` knows the algorithms: new content gets BLAKE3 ids): of local files
(with a memo keyed by file identity), of streams while someone else reads them (``HashingReader``), so content
is hashed in the same pass that uploads it, and of a file while this process writes it (``TrailingHash``: the
local store's copy, hashed from its pages behind the kernel's copy).
Every read of an input goes through one stat check (``read_checked``).

``HashMemo`` lives in one process; ``storage/hash_cache.py`` adds one that persists across processes.
Correctness never depends on a memo: it only skips reading a file whose stat key (path, size, mtime, inode,
device, ctime) is exactly the one recorded when its content was hashed; any other stat is hashed again."""

from __future__ import annotations

import errno
import io
import mmap
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

from airflow_provider_dsjobs.storage import digests
from airflow_provider_dsjobs.storage.base import StoreError

#: Files are hashed by reading into one reusable buffer of this size (no new ``bytes`` per chunk; the hashers
#: release the GIL on each update, so another thread can upload meanwhile)...
FILE_BUFFER_SIZE = 8 * 1024 * 1024
#: ... or of the file's size when smaller, but at least this: a 128 KiB file does not zero 8 MiB.
_MIN_BUFFER_SIZE = 256 * 1024
#: ``TrailingHash`` maps at most this much of a file at a time.
_HASH_WINDOW = 16 * 1024 * 1024
#: A file modified this recently may change again within the same mtime tick: do not memoize its hash.
_RACY_SECONDS = 2.0

#: (absolute path, size, mtime_ns, inode, device, ctime_ns). ``ctime`` cannot be set by a user (unlike mtime,
#: which ``touch -d``/``os.utime`` or a copy tool preserving times can put back), and any write updates it.
StatKey = tuple[str, int, int, int, int, int]


def stat_key(path: Path, st: os.stat_result) -> StatKey:
    return (str(path), st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev, st.st_ctime_ns)


def is_racy(key: StatKey, observed_at: float) -> bool:
    """Whether the file was modified so shortly before ``observed_at`` (when its stat was taken, before reading)
    that a later write in the same mtime tick could leave the stat unchanged (git's "racy" entries)."""
    return observed_at - key[2] / 1e9 < _RACY_SECONDS


class HashMemo:
    """Remembers ``stat key → content id`` so an unchanged file is read once per process (bounded, LRU).

    ``hits`` and ``misses`` count lookups (to see what a memo saved)."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self._entries: OrderedDict[StatKey, str] = OrderedDict()
        self._max = max_entries
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: StatKey) -> str | None:
        with self._lock:
            sha = self._entries.get(key)
            if sha is not None:
                self._entries.move_to_end(key)
                self.hits += 1
            else:
                self.misses += 1
            return sha

    def put(self, key: StatKey, sha: str, observed_at: float | None = None) -> None:
        """Remember ``sha`` for ``key``, unless the file was modified within moments of ``observed_at`` (the
        time its stat was taken, before it was read; default: now), where a same-tick write would go unnoticed."""
        if is_racy(key, time.time() if observed_at is None else observed_at):
            return
        self._remember(key, sha)

    def _remember(self, key: StatKey, sha: str) -> None:
        with self._lock:
            self._entries[key] = sha
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def preload(self, paths: Sequence[Path]) -> None:
        """Hint that these files are about to be looked up (a no-op here: everything is in memory already)."""

    def flush(self) -> None:
        """Make what was ``put`` durable (a no-op here: this memo lives and dies with the process)."""

    def __len__(self) -> int:
        return len(self._entries)


#: The memo shared by everything in this process unless a caller passes its own.
DEFAULT_MEMO = HashMemo()


def hash_file(path: Path, memo: HashMemo | None = DEFAULT_MEMO) -> tuple[str, int]:
    """``(content id, size)`` of a local file, read in chunks. Raises ``StoreError`` if the file changes
    while it is read (its stat key differs before and after)."""
    sha, st = hash_file_stat(path, memo)
    return sha, st.st_size


def hash_file_stat(
    path: Path, memo: HashMemo | None = DEFAULT_MEMO, *, lookup: bool = True
) -> tuple[str, os.stat_result]:
    """Like ``hash_file``, but returns the file's ``stat`` as it was while hashed (to detect later changes).
    ``lookup=False``: the caller already asked the memo; read the file, then record its hash."""
    path = path if isinstance(path, Path) else Path(path)
    if memo is not None and lookup:
        try:
            before = os.stat(path)
        except OSError as exc:
            raise _unreadable(path, exc) from None
        if (cached := memo.get(stat_key(path.absolute(), before))) is not None:
            return cached, before
    return read_checked(path, memo, lambda before: _content_id_of(path, before.st_size))


def read_checked(
    path: Path, memo: HashMemo | None, read: Callable[[os.stat_result], tuple[str, int]]
) -> tuple[str, os.stat_result]:
    """Run ``read`` between two ``stat`` calls of ``path`` (given the first, it reads the file and returns the
    content id and the number of bytes it read): ``(content id, stat)`` if the file kept its stat and its size
    throughout, else a ``StoreError``. The hash is recorded in ``memo``. Every way the stager reads a file goes
    through this check."""
    observed_at = time.time()
    try:
        before = os.stat(path)
        sha, size = read(before)
        after = os.stat(path)
    except OSError as exc:
        raise _unreadable(path, exc) from None
    if stat_key(path, after) != stat_key(path, before) or size != after.st_size:
        raise StoreError(f"{path} changed while it was being read: retry when nothing writes to it")
    if memo is not None:
        memo.put(stat_key(path.absolute(), before), sha, observed_at)
    return sha, after


def read_hashed(path: Path, memo: HashMemo | None = DEFAULT_MEMO) -> tuple[bytes, str, os.stat_result]:
    """Read a small file whole and hash it: ``(content, content id, stat while read)``, so a copy can be written
    from the same read (each byte read once). The hash is recorded in ``memo`` (the caller asked it already).
    The content is held in memory, so callers keep this to small files."""
    content: list[bytes] = []

    def read(before: os.stat_result) -> tuple[str, int]:
        expected = before.st_size
        with open(path, "rb", buffering=0) as fh:
            data = fh.read(expected + 1)  # one more byte than the stat says: a grown file is caught
            while len(data) <= expected and (more := fh.read(expected + 1 - len(data))):
                data += more  # a short read (rare on a regular file)
        content.append(data)
        return digests.hash_of(data), len(data)  # the hashers release the GIL: files hash side by side

    sha, st = read_checked(path, memo, read)
    return content[0], sha, st


def _unreadable(path: Path, exc: OSError) -> StoreError:
    return StoreError(f"cannot read {path}: {exc.strerror or exc}")


class TrailingHash:
    """The content id of a file this process is writing, hashed region by region, in order, in a background thread
    that trails the writer: the writer calls ``add(offset, length)`` for each range it has finished writing, and
    ``content_id()`` waits for the hash to catch up. Pages are read through ``mmap`` (no copy into Python; where a
    file cannot be mapped, ``os.pread``), one window of ``_HASH_WINDOW`` at a time.

    Only for a file this process owns and nobody else truncates (a mapped page cut off by a truncation kills the
    process with SIGBUS): a copy in the store's own partial file, never the user's input."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._digest = digests.ContentHash(large=True)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dsjobs-hash")
        self._pending: list[Future[None]] = []
        self.size = 0

    def __enter__(self) -> TrailingHash:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def add(self, offset: int, length: int) -> None:
        self._pending.append(self._pool.submit(self._hash, offset, length))
        self.size += length

    def content_id(self) -> str:
        for pending in self._pending:
            pending.result()  # in order; an error in the hashing thread is raised here
        self._pending.clear()
        return self._digest.content_id()

    def _hash(self, offset: int, length: int) -> None:
        end = offset + length
        while offset < end:
            n = min(_HASH_WINDOW, end - offset)
            skip = offset % mmap.ALLOCATIONGRANULARITY  # a mapping starts on a page boundary
            try:
                window = mmap.mmap(self._fd, n + skip, access=mmap.ACCESS_READ, offset=offset - skip)
            except (OSError, ValueError):  # a file system that cannot map files
                self._digest.update(_pread_all(self._fd, n, offset))
            else:
                with window, memoryview(window) as pages, pages[skip:] as region:
                    self._digest.update(region)
            offset += n


def _pread_all(fd: int, n: int, offset: int) -> bytes:
    parts = []
    while n > 0:
        part = os.pread(fd, n, offset)
        if not part:
            raise OSError(errno.EIO, "the file ended before what was written to it")
        parts.append(part)
        n -= len(part)
        offset += len(part)
    return b"".join(parts)


def _content_id_of(path: Path, size_hint: int) -> tuple[str, int]:
    """The content id of a file and its length, read sequentially in large blocks (of about ``size_hint``, the
    size it had a moment ago, when that is smaller)."""
    digest = digests.ContentHash(large=size_hint >= digests.THREADED_MIN_BYTES)
    size = 0
    buffer = bytearray(max(_MIN_BUFFER_SIZE, min(FILE_BUFFER_SIZE, size_hint + 1)))
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as fh:
        while n := fh.readinto(buffer):
            digest.update(view[:n])
            size += n
    return digest.content_id(), size


class HashingReader(io.RawIOBase):
    """Wraps a readable binary stream; hashes and counts every byte read through it (with the algorithm
    ``expected_sha256`` names, else ``algorithm``).

    It deliberately has no ``seek``: boto3 then reads it strictly in order (the non-seekable upload path),
    which is what makes the running hash equal the hash of the uploaded object.
    With ``expected_sha256`` (a content id of either algorithm), reaching the end of a stream whose content
    differs raises ``StoreError``.
    """

    def __init__(
        self,
        stream: BinaryIO | Any,
        expected_sha256: str | None = None,
        name: str = "stream",
        *,
        algorithm: str = digests.NEW_BLOB_ALGORITHM,
    ) -> None:
        super().__init__()
        self._stream = stream
        self._digest = digests.verifier(expected_sha256) if expected_sha256 else digests.ContentHash(algorithm)
        self._expected = expected_sha256
        self._name = name
        self.size = 0
        self._eof = False

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def read(self, n: int | None = -1) -> bytes:
        data: bytes = self._stream.read(-1 if n is None else n)
        if data:
            self._digest.update(data)
            self.size += len(data)
        elif n != 0 and not self._eof:
            self._eof = True
            if self._expected is not None and self._digest.content_id() != self._expected:
                raise StoreError(f"{self._name} is corrupt: its content does not match {self._expected}")
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    @property
    def sha256(self) -> str:
        """The content id of what was read (bare hex for SHA-256)."""
        return self._digest.content_id()

    def close(self) -> None:
        if not self.closed:
            self._stream.close()
        super().close()
