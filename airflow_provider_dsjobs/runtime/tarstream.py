"""Tar archives as streams, in both directions, in bounded memory.

* :func:`tar_stream` writes a tar archive lazily from :class:`TarFile` and :class:`TarDir` entries: a header, then the
  file's bytes read in chunks from its ``opener``, then padding. Nothing is read before the consumer asks for it,
  so a multi-gigabyte input travels to ``put_archive`` without touching memory or a temporary file.
* :class:`TarReader` turns the chunk iterator of ``get_archive`` into a file object, so
  ``tarfile.open(fileobj=reader, mode="r|")`` streams members one by one; :func:`safe_members` refuses members that
  would land outside the destination (absolute paths, ``..``, links out, devices), and :func:`extract_stream`
  writes them to a local directory.
"""

from __future__ import annotations

import io
import os
import posixpath
import stat
import tarfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from airflow_provider_dsjobs.runtime.errors import RuntimeFailure, UnsafeMember

CHUNK_SIZE = 1024 * 1024
_BLOCK = tarfile.BLOCKSIZE


@dataclass(frozen=True)
class TarFile:
    """A regular file: ``opener()`` returns a binary file object yielding exactly ``size`` bytes."""

    arcname: str
    size: int
    opener: Callable[[], BinaryIO]
    mode: int = 0o644
    mtime: float | None = None
    uid: int = 0
    gid: int = 0


@dataclass(frozen=True)
class TarDir:
    """A directory entry (lets a non-root container user own or write a directory it did not create)."""

    arcname: str
    mode: int = 0o755
    mtime: float | None = None
    uid: int = 0
    gid: int = 0


TarEntry = TarFile | TarDir


def _clean_arcname(name: str) -> str:
    clean = posixpath.normpath(name).lstrip("/")
    if clean in ("", ".") or clean == ".." or clean.startswith("../"):
        raise RuntimeFailure(f"invalid archive member name {name!r}: it must be a relative path inside the archive")
    return clean


def _header(entry: TarEntry) -> bytes:
    info = tarfile.TarInfo(_clean_arcname(entry.arcname))
    info.mode = entry.mode & 0o7777
    info.mtime = int(entry.mtime if entry.mtime is not None else time.time())
    info.uid, info.gid = entry.uid, entry.gid
    if isinstance(entry, TarDir):
        info.type = tarfile.DIRTYPE
        info.size = 0
    else:
        info.type = tarfile.REGTYPE
        info.size = entry.size
    return info.tobuf(format=tarfile.PAX_FORMAT, encoding="utf-8", errors="surrogateescape")


def _file_chunks(entry: TarFile, chunk_size: int) -> Iterator[bytes]:
    remaining = entry.size
    with entry.opener() as fh:
        while remaining > 0:
            chunk = fh.read(min(chunk_size, remaining))
            if not chunk:
                raise RuntimeFailure(
                    f"{entry.arcname} shrank while it was being sent: expected {entry.size} bytes, "
                    f"got {entry.size - remaining}"
                )
            remaining -= len(chunk)
            yield chunk
        # A file that grew keeps only its announced size: the header is already on its way.
    padding = (-entry.size) % _BLOCK
    if padding:
        yield b"\0" * padding


def tar_stream(entries: Iterable[TarEntry], *, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Yield a complete tar archive of ``entries`` in chunks of at most ``chunk_size`` bytes (headers are small)."""
    for entry in entries:
        yield _header(entry)
        if isinstance(entry, TarFile):
            yield from _file_chunks(entry, chunk_size)
    yield b"\0" * (_BLOCK * 2)


def _binary_opener(path: Path) -> Callable[[], BinaryIO]:
    def opener() -> BinaryIO:
        return path.open("rb")

    return opener


def directory_entries(root: str | os.PathLike[str], prefix: str) -> Iterator[TarEntry]:
    """Entries for a local directory tree under ``prefix`` in the archive (symlinks and special files skipped)."""
    base = Path(root)
    yield TarDir(prefix, mode=0o755)
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames.sort()
        rel = Path(dirpath).relative_to(base)
        for name in dirnames:
            path = Path(dirpath, name)
            if not path.is_symlink():
                yield TarDir(posixpath.join(prefix, *rel.parts, name), mode=0o755)
        for name in sorted(filenames):
            path = Path(dirpath, name)
            st = path.lstat()
            if not stat.S_ISREG(st.st_mode):
                continue
            yield TarFile(
                posixpath.join(prefix, *rel.parts, name),
                size=st.st_size,
                opener=_binary_opener(path),
                mode=stat.S_IMODE(st.st_mode),
                mtime=st.st_mtime,
            )


class TarReader(io.RawIOBase):
    """A read-only, non-seekable file object over an iterator of byte chunks (e.g. ``get_archive``'s stream)."""

    def __init__(self, chunks: Iterable[bytes], *, on_close: Callable[[], None] | None = None) -> None:
        super().__init__()
        self._chunks = iter(chunks)
        self._pending = memoryview(b"")
        self._on_close = on_close
        #: The engine's stat of the exported path, when the reader came from ``Runtime.export``.
        self.stat: dict[str, object] = {}

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        while not self._pending:
            try:
                chunk = next(self._chunks)
            except StopIteration:
                return 0
            self._pending = memoryview(chunk)
        n = min(len(view), len(self._pending))
        view[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def close(self) -> None:
        if not self.closed:
            close = getattr(self._chunks, "close", None)
            if callable(close):
                close()
            if self._on_close is not None:
                self._on_close()
        super().close()

    def open_tar(self) -> tarfile.TarFile:
        """The archive as a streaming ``tarfile`` (members must be read in order)."""
        return tarfile.open(fileobj=self, mode="r|")


def check_member(member: tarfile.TarInfo) -> str:
    """The member's safe relative path, or an ``UnsafeMember`` if it could escape the destination.

    Names are ``/``-separated; a backslash is an ordinary character of a name (as on Linux), so
    ``..\\x`` is a file of that name, not a way out."""
    name = member.name
    if name.startswith("/"):
        raise UnsafeMember(f"unsafe archive member {name!r}: absolute path")
    if "\x00" in name:
        raise UnsafeMember(f"unsafe archive member {name!r}: a NUL in its name")
    if ".." in name.split("/"):
        raise UnsafeMember(f"unsafe archive member {name!r}: it leaves the destination directory")
    clean = posixpath.normpath(name)
    if member.issym() or member.islnk():
        target = member.linkname
        if member.issym():
            resolved = posixpath.normpath(posixpath.join(posixpath.dirname(clean), target))
        else:
            resolved = posixpath.normpath(target)
        if target.startswith("/") or resolved == ".." or resolved.startswith("../"):
            raise UnsafeMember(f"unsafe archive member {name!r}: link {member.linkname!r} leaves the archive")
    elif not (member.isfile() or member.isdir()):
        raise UnsafeMember(f"unsupported archive member {name!r}: devices and FIFOs are not extracted")
    return clean


def safe_members(archive: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    """Iterate a streaming archive's members, raising ``UnsafeMember`` on any that could escape the destination."""
    for member in archive:
        check_member(member)
        yield member


def extract_stream(reader: TarReader, dest: str | os.PathLike[str], *, strip_components: int = 0) -> list[str]:
    """Extract a streamed archive into ``dest`` (created if needed); returns the relative paths of regular files.

    ``strip_components`` drops leading path parts, like ``tar --strip-components``; ``get_archive`` of ``/a/out``
    puts everything under ``out/``, so ``strip_components=1`` writes the directory's contents straight into ``dest``.
    """
    root = Path(dest)
    root.mkdir(parents=True, exist_ok=True)
    files: list[str] = []
    with reader.open_tar() as archive:
        for member in safe_members(archive):
            parts = check_member(member).split("/")[strip_components:]
            if not parts or parts == ["."]:
                continue
            target = root.joinpath(*parts)
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
            elif member.isfile():
                target.parent.mkdir(parents=True, exist_ok=True)
                source = archive.extractfile(member)
                assert source is not None
                with source, open(target, "wb") as out:
                    while chunk := source.read(CHUNK_SIZE):
                        out.write(chunk)
                os.chmod(target, member.mode & 0o755 | 0o600)
                files.append("/".join(parts))
            # Links inside the archive are checked but not recreated: outputs are plain files.
    return files
