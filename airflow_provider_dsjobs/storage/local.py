"""The embedded store: a local directory behind the ``ObjectStore`` interface (``file:///path`` URLs).

Each key is a file under the root. Writes go to a temporary sibling file (suffix ``.dsjobs-partial``) that is
flushed, fsync'ed and renamed over the target with ``os.replace``, so a reader sees the old or the new
content, never a mix, and a crash leaves at most a stray partial file that ``list`` ignores.

The stager's copies (``copy_in`` / ``commit_copies``) keep that rule for a whole batch at once: every copy is
fsync'ed before any of them is renamed to its key, the fsyncs run side by side (a journaling filesystem then
commits many in one go, where one after another each waits for its own commit), so a directory of a thousand
small files pays about one disk flush instead of a thousand. After the renames, each directory that got a new name
is fsync'ed once (a rename is a change of the directory, lost in a crash until the directory reaches the disk).

Files are created ``0600`` and directories ``0700`` (``storage/private.py``): only the store's owner reads it.
Conditional writes (``put_bytes_if``) hold an exclusive ``fcntl.flock`` on a lock file beside the object
(``.<name>.dsjobs-lock``, which listings ignore) around read, compare and the atomic write, so two processes on
this machine never both win; the version token is the SHA-256 of the content.

``LocalStore(root, fsync=False)`` (``DSJOBS_LOCAL_FSYNC=0``) skips every fsync: the temporary name and the rename
stay, so a reader never sees half an object, but a crash of the machine may lose or empty recent writes.
"""

from __future__ import annotations

import builtins
import ctypes
import errno
import fcntl
import hashlib
import io
import os
import secrets
import stat
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO

from airflow_provider_dsjobs.storage.base import (
    CopiedIn,
    ObjectInfo,
    ObjectNotFound,
    PreconditionFailed,
    ProgressCallback,
    StoreError,
)
from airflow_provider_dsjobs.storage.hashing import TrailingHash
from airflow_provider_dsjobs.storage.keys import NATIVE_SEPARATORS, check_key, local_parts
from airflow_provider_dsjobs.storage.private import make_private_dirs, private_opener

PARTIAL_SUFFIX = ".dsjobs-partial"
#: The lock file a conditional write holds beside its object (never listed).
LOCK_SUFFIX = ".dsjobs-lock"
_HIDDEN_SUFFIXES = (PARTIAL_SUFFIX, LOCK_SUFFIX)
CHUNK_SIZE = 4 * 1024 * 1024
#: ``put_file`` copies in the kernel (``copy_file_range``, what ``cp`` does) in steps of this size, one progress
#: report each: no byte passes through Python, so the copy costs about what ``cp`` costs.
KERNEL_COPY_STEP = 64 * 1024 * 1024
#: ``commit_copies`` fsyncs up to this many copies at once (each waits on the disk, not on a core).
_PARALLEL_SYNCS = 16
#: ``copy_in`` fsyncs a copy at least this large itself, as the copy ends (its disk writes started as it went),
#: while the hash of its last steps finishes; smaller copies wait for ``commit_copies``' batch.
_SYNC_ON_COPY = 8 * 1024 * 1024


def _oserror(action: str, where: str, exc: OSError) -> StoreError:
    return StoreError(f"cannot {action} {where}: {exc.strerror or exc}")


@contextmanager
def _partial(tmp: Path, action: str, where: Callable[[], str]) -> Iterator[None]:
    """Remove the partial file ``tmp`` if the block fails (it never keeps half an object); an ``OSError`` becomes
    one ``StoreError`` line: ``cannot <action> <where>: <why>``."""
    try:
        yield
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise _oserror(action, where(), exc) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _writeback_starter() -> Callable[[int, int, int], object] | None:
    """Linux's ``sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE)``, or ``None`` where there is none."""
    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int
    return lambda fd, offset, length: function(fd, offset, length, 2)  # 2: SYNC_FILE_RANGE_WRITE


#: Starts the disk writes of a range already copied, without waiting for them: a large copy that is fsync'ed at
#: the end then writes to the disk while it copies, and the fsync waits only for the last step. Only a hint:
#: durability still comes from the fsync.
_START_WRITEBACK = _writeback_starter()


#: Called after each step of a copy with the offset and length of the range just written.
_StepCallback = Callable[[int, int], None]


def _copy_in_kernel(source: BinaryIO, out: BinaryIO, on_step: _StepCallback) -> bool:
    """Copy the rest of ``source`` to ``out`` with ``copy_file_range``; ``False`` (nothing copied) when the kernel
    or the filesystems cannot, so the caller falls back to reading and writing."""
    copy = getattr(os, "copy_file_range", None)
    if copy is None:
        return False
    src, dst = source.fileno(), out.fileno()
    first = True
    offset = 0
    while True:
        try:
            n = copy(src, dst, KERNEL_COPY_STEP)
        except OSError as exc:
            if first and exc.errno in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EPERM):
                return False
            raise
        first = False
        if n == 0:
            return True
        on_step(offset, n)
        offset += n


def _fill(
    out: BinaryIO, source: BinaryIO, on_step: _StepCallback | None, *, kernel_copy: bool, sync: bool = True
) -> None:
    """Write the rest of ``source`` to the new, empty file ``out`` (in the kernel if ``kernel_copy`` and it can),
    calling ``on_step`` after each step; fsync it unless ``sync`` is false (the caller then fsyncs it before
    giving it a name)."""
    fd = out.fileno()

    def step(offset: int, n: int) -> None:
        if sync and _START_WRITEBACK is not None:
            _START_WRITEBACK(fd, offset, n)  # the fsync at the end then waits only for the last step
        if on_step is not None:
            on_step(offset, n)

    if not (kernel_copy and _copy_in_kernel(source, out, step)):
        offset = 0
        while chunk := source.read(CHUNK_SIZE):
            out.write(chunk)
            out.flush()  # in the file before anyone reads it back from there
            step(offset, len(chunk))
            offset += len(chunk)
    out.flush()
    if sync:
        os.fsync(fd)


def _counted(progress: ProgressCallback | None) -> _StepCallback | None:
    return None if progress is None else lambda offset, n: progress(n)


def _fsync_path(path: Path) -> None:
    """fsync a file or a directory (a directory's fsync makes the names created or renamed in it durable)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_all(paths: Sequence[Path]) -> None:
    """fsync every path, several side by side (each waits on the disk, not on a core)."""
    if len(paths) > 1:
        with ThreadPoolExecutor(max_workers=_PARALLEL_SYNCS, thread_name_prefix="dsjobs-fsync") as pool:
            list(pool.map(_fsync_path, paths))
    else:
        for path in paths:
            _fsync_path(path)


def _make_dirs(directory: Path) -> set[Path]:
    """Create ``directory`` and its missing parents (``0700``: the store is its owner's only); the directories
    whose entries that changed (each new directory's parent), for the caller to fsync."""
    return {new.parent for new in make_private_dirs(directory)}


class LocalStore:
    """Objects as files under ``root``; usable by several processes at once."""

    def __init__(self, root: Path, *, fsync: bool = True) -> None:
        self.root = Path(root).expanduser().resolve()
        self._root = str(self.root)
        self.url = self.root.as_uri()
        #: fsync objects and their directories before a write returns (see the module's docstring).
        self.fsync = fsync
        #: Directories ``copy_in`` created entries in (making the root), for the next ``commit_copies`` to fsync.
        self._copy_dirs: set[Path] = set()
        self._root_made = False

    def __repr__(self) -> str:
        return f"LocalStore({self.url})"

    # -- helpers -------------------------------------------------------------------------------------------------

    def _path(self, key: str) -> Path:
        return Path(self._file(key))

    def _file(self, key: str) -> str:
        """The file of ``key``, as a string (a batch of a thousand names spares pathlib's cost per name)."""
        check_key(key)
        if not NATIVE_SEPARATORS:  # POSIX: a checked key is a relative path of safe names already
            return os.path.join(self._root, key)
        try:
            return os.path.join(self._root, *local_parts(key))
        except StoreError as exc:  # only on a system whose paths split at a backslash too
            raise StoreError(f"invalid object key for a local store: {exc}") from None

    def uri(self, key: str) -> str:
        return self._path(key).as_uri()

    def _write_atomically(
        self, key: str, source: BinaryIO, progress: ProgressCallback | None, *, kernel_copy: bool = False
    ) -> None:
        target = self._path(key)
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}{PARTIAL_SUFFIX}")
        with _partial(tmp, "write", lambda: self.uri(key)):
            changed = _make_dirs(target.parent) | {target.parent}
            with open(tmp, "wb", opener=private_opener) as out:
                _fill(out, source, _counted(progress), kernel_copy=kernel_copy, sync=self.fsync)
            os.replace(tmp, target)
            self._sync_dirs(changed)

    # -- copies named after they are made (not in the protocol) ---------------------------------------------------

    def copy_in(self, path: Path) -> CopiedIn:
        """Copy ``path`` into a partial file under the root (``list`` ignores it), for ``commit_copies`` to name
        once its content hash is known: the kernel copies (``copy_file_range``) while a thread hashes the pages
        already copied, so each byte of ``path`` is read once, by the kernel, and the hash is that of the copy
        itself. A small copy is not fsync'ed yet (``commit_copies`` does that, for the whole batch at once), nor
        any copy when ``fsync`` is off."""
        tmp = self._incoming()
        with _partial(tmp, "copy", lambda: str(path)), open(path, "rb") as source:
            large = os.fstat(source.fileno()).st_size >= _SYNC_ON_COPY
            # w+: the hasher maps its pages
            with open(tmp, "w+b", opener=private_opener) as out, TrailingHash(out.fileno()) as hasher:
                _fill(out, source, hasher.add, kernel_copy=True, sync=large and self.fsync)
                sha = hasher.content_id()
        return CopiedIn(tmp, sha, hasher.size)

    def copy_in_bytes(self, data: bytes) -> Path:
        """Like ``copy_in``, from content already in memory (never fsync'ed here: the batch does it)."""
        tmp = self._incoming()
        with _partial(tmp, "write", lambda: self.url), open(tmp, "wb", buffering=0, opener=private_opener) as out:
            view = memoryview(data)
            while view:
                view = view[out.write(view) :]
        return tmp

    def _incoming(self) -> Path:
        """A new name for a copy whose key is not known yet (making the root on first use)."""
        if not self._root_made:  # checked once per store, not once per copy
            try:
                self._copy_dirs.update(_make_dirs(self.root))
            except OSError as exc:
                raise _oserror("write", self.url, exc) from None
            self._root_made = True
        return Path(self._root, f".incoming-{secrets.token_hex(8)}{PARTIAL_SUFFIX}")

    def commit_copies(self, copies: Sequence[tuple[Path, str]], progress: ProgressCallback | None = None) -> None:
        """Name ``copy_in`` copies: fsync all of them (side by side), then rename each to its key (atomically
        replacing whatever is there), then fsync each directory that got a name, once; ``progress`` gets each
        copy's size. On an error nothing unsynced is named, and the copies not named are removed."""
        if self.fsync:
            self._sync_copies([copy for copy, _ in copies])
        made: set[str] = set()  # the shard directories (a thousand blobs share a few hundred)
        changed = set(self._copy_dirs)  # the directories whose entries changed, to fsync once each
        self._copy_dirs.clear()
        for i, (copy, key) in enumerate(copies):
            target = self._file(key)
            try:
                if (parent := os.path.dirname(target)) not in made:
                    changed |= _make_dirs(Path(parent))
                    made.add(parent)
                size = os.stat(copy).st_size
                os.replace(copy, target)
            except OSError as exc:
                for rest, _ in copies[i:]:
                    rest.unlink(missing_ok=True)
                raise _oserror("write", self.uri(key), exc) from None
            if progress:
                progress(size)
        try:
            self._sync_dirs({Path(d) for d in made} | changed)
        except OSError as exc:
            raise _oserror("write", self.url, exc) from None

    def _sync_copies(self, copies: list[Path]) -> None:
        """fsync ``copy_in`` copies; on an error remove them all (none gets a name)."""
        try:
            _fsync_all(copies)
        except OSError as exc:
            for copy in copies:
                copy.unlink(missing_ok=True)
            raise _oserror("write", self.url, exc) from None

    def _sync_dirs(self, directories: set[Path]) -> None:
        """fsync each of ``directories``, unless ``fsync`` is off."""
        if self.fsync:
            _fsync_all(list(directories))

    def drop_copy(self, copy: Path) -> None:
        copy.unlink(missing_ok=True)

    # -- ObjectStore ---------------------------------------------------------------------------------------------

    def exists(self, key: str) -> bool:
        # os.path rather than pathlib: a cached re-run of a large directory checks thousands of blobs.
        return os.path.isfile(self._file(key))

    def size(self, key: str) -> int | None:
        try:
            st = self._path(key).stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise _oserror("read", self.uri(key), exc) from None
        return st.st_size if stat.S_ISREG(st.st_mode) else None

    def put_file(self, key: str, path: Path, progress: ProgressCallback | None = None) -> None:
        try:
            source = open(path, "rb")  # noqa: SIM115 - closed below; the error mapping needs the open separate
        except OSError as exc:
            raise _oserror("read", str(path), exc) from None
        with source:
            self._write_atomically(key, source, progress, kernel_copy=True)

    def put_stream(self, key: str, stream: BinaryIO, progress: ProgressCallback | None = None) -> None:
        self._write_atomically(key, stream, progress)

    def put_bytes(self, key: str, data: bytes) -> None:
        self._write_atomically(key, io.BytesIO(data), None)

    def get_bytes(self, key: str) -> bytes:
        with self.open_read(key) as fh:
            return fh.read()

    def get_with_version(self, key: str) -> tuple[bytes, str]:
        data = self.get_bytes(key)
        return data, hashlib.sha256(data).hexdigest()

    def put_bytes_if(self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False) -> str:
        """Under an exclusive lock on ``.<name>.dsjobs-lock``: compare the current content's hash with ``if_match``
        (or check it is absent), then write as ``put_bytes`` does (temporary file, fsync, rename)."""
        target = self._path(key)
        lock = target.with_name(f".{target.name}{LOCK_SUFFIX}")
        try:
            _make_dirs(target.parent)
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise _oserror("lock", self.uri(key), exc) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                current: str | None = self.get_with_version(key)[1]
            except ObjectNotFound:
                current = None
            if if_none_match and current is not None:
                raise PreconditionFailed(f"{self.uri(key)} exists already")
            if if_match is not None and current != if_match:
                raise PreconditionFailed(f"{self.uri(key)} changed since it was read")
            self.put_bytes(key, data)
        finally:
            os.close(fd)  # releases the lock
        return hashlib.sha256(data).hexdigest()

    def get_file(self, key: str, path: Path, progress: ProgressCallback | None = None) -> None:
        path = Path(path)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}{PARTIAL_SUFFIX}")
        with self.open_read(key) as source, _partial(tmp, "write", lambda: str(path)):
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as out:
                while chunk := source.read(CHUNK_SIZE):
                    out.write(chunk)
                    if progress:
                        progress(len(chunk))
            os.replace(tmp, path)

    def open_read(self, key: str) -> BinaryIO:
        path = self._path(key)
        try:
            return open(path, "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFound(f"no such object: {self.uri(key)}") from None
        except OSError as exc:
            raise _oserror("read", self.uri(key), exc) from None

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix`` (a plain string prefix, as in S3), sorted by key."""
        if prefix.startswith("/"):
            raise StoreError(f"invalid key prefix {prefix!r}: it must be relative")
        base_dir = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = self.root.joinpath(*check_key(base_dir).split("/")) if base_dir else self.root
        found: list[ObjectInfo] = []
        for dirpath, dirnames, filenames in os.walk(start):
            dirnames.sort()
            rel_dir = Path(dirpath).relative_to(self.root).as_posix()
            for name in filenames:
                if name.endswith(_HIDDEN_SUFFIXES):
                    continue
                key = name if rel_dir == "." else f"{rel_dir}/{name}"
                if not key.startswith(prefix):
                    continue
                try:
                    st = os.stat(os.path.join(dirpath, name))
                except FileNotFoundError:  # deleted while listing
                    continue
                found.append(ObjectInfo(key, st.st_size, datetime.fromtimestamp(st.st_mtime, timezone.utc)))
        found.sort(key=lambda info: info.key)
        return iter(found)

    def list_children(self, prefix: str) -> Iterator[str]:
        """Names directly under ``prefix`` (which ends with ``/`` or is empty), sorted: ``name`` for an object,
        ``name/`` for a deeper level. Cheap where ``list`` would walk everything below (not in the protocol)."""
        base = prefix.rstrip("/")
        directory = self.root.joinpath(*check_key(base).split("/")) if base else self.root
        try:
            entries = list(os.scandir(directory))
        except (FileNotFoundError, NotADirectoryError):
            return iter(())
        except OSError as exc:
            raise _oserror("list", directory.as_uri(), exc) from None
        names = [e.name + "/" if e.is_dir() else e.name for e in entries if not e.name.endswith(_HIDDEN_SUFFIXES)]
        return iter(sorted(names))

    def list_keys(self, prefix: str, *, start_after: str | None = None, limit: int = 1000) -> builtins.list[str]:
        """Keys directly under ``prefix`` (one ``scandir`` of its directory), sorted, after ``start_after``."""
        if not prefix.endswith("/"):
            raise StoreError(f"invalid key prefix {prefix!r}: list_keys needs one ending with '/'")
        names = sorted(n for n in self.list_children(prefix) if not n.endswith("/"))
        if start_after is not None:
            after = start_after[len(prefix) :] if start_after.startswith(prefix) else ""
            names = [n for n in names if n > after]
        return [prefix + n for n in names[:limit]]

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return
        except OSError as exc:
            raise _oserror("delete", self.uri(key), exc) from None
        # Tidy up directories the deletion emptied, never the root itself.
        parent = path.parent
        while parent != self.root and self.root in parent.parents:
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent
