"""The embedded store: a local directory behind the ``ObjectStore`` interface (``file:///path`` URLs).

Each key is a file under the root. Writes go to a temporary sibling file (suffix ``.dsjobs-partial``) that is
flushed, fsync'ed and renamed over the target with ``os.replace``, so a reader sees the old or the new
content, never a mix, and a crash leaves at most a stray partial file that ``list`` ignores.
"""

from __future__ import annotations

import io
import os
import secrets
import stat
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO

from airflow_provider_dsjobs.storage.base import ObjectInfo, ObjectNotFound, ProgressCallback, StoreError
from airflow_provider_dsjobs.storage.keys import check_key, local_parts

PARTIAL_SUFFIX = ".dsjobs-partial"
CHUNK_SIZE = 1024 * 1024


def _oserror(action: str, where: str, exc: OSError) -> StoreError:
    return StoreError(f"cannot {action} {where}: {exc.strerror or exc}")


class LocalStore:
    """Objects as files under ``root``; usable by several processes at once."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).expanduser().resolve()
        self.url = self.root.as_uri()

    def __repr__(self) -> str:
        return f"LocalStore({self.url})"

    # -- helpers -------------------------------------------------------------------------------------------------

    def _path(self, key: str) -> Path:
        check_key(key)
        try:
            return self.root.joinpath(*local_parts(key))
        except StoreError as exc:  # only on a system whose paths split at a backslash too
            raise StoreError(f"invalid object key for a local store: {exc}") from None

    def uri(self, key: str) -> str:
        return self._path(key).as_uri()

    def _write_atomically(self, key: str, source: BinaryIO, progress: ProgressCallback | None) -> None:
        target = self._path(key)
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}{PARTIAL_SUFFIX}")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as out:
                while chunk := source.read(CHUNK_SIZE):
                    out.write(chunk)
                    if progress:
                        progress(len(chunk))
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise _oserror("write", self.uri(key), exc) from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    # -- ObjectStore ---------------------------------------------------------------------------------------------

    def exists(self, key: str) -> bool:
        # os.path rather than pathlib: a cached re-run of a large directory checks thousands of blobs.
        return os.path.isfile(os.path.join(self.root, check_key(key)))  # a checked key: relative, "/"-separated

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
            self._write_atomically(key, source, progress)

    def put_stream(self, key: str, stream: BinaryIO, progress: ProgressCallback | None = None) -> None:
        self._write_atomically(key, stream, progress)

    def put_bytes(self, key: str, data: bytes) -> None:
        self._write_atomically(key, io.BytesIO(data), None)

    def get_bytes(self, key: str) -> bytes:
        with self.open_read(key) as fh:
            return fh.read()

    def get_file(self, key: str, path: Path, progress: ProgressCallback | None = None) -> None:
        path = Path(path)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}{PARTIAL_SUFFIX}")
        with self.open_read(key) as source:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                with open(tmp, "wb") as out:
                    while chunk := source.read(CHUNK_SIZE):
                        out.write(chunk)
                        if progress:
                            progress(len(chunk))
                os.replace(tmp, path)
            except OSError as exc:
                tmp.unlink(missing_ok=True)
                raise _oserror("write", str(path), exc) from None
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise

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
                if name.endswith(PARTIAL_SUFFIX):
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
        names = [e.name + "/" if e.is_dir() else e.name for e in entries if not e.name.endswith(PARTIAL_SUFFIX)]
        return iter(sorted(names))

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
