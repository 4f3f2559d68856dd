"""The content-addressed input cache of a project: unchanged inputs are never uploaded twice.

Key layout (relative to the store root; ``<project>`` is the project name):

``projects/<project>/blobs/<algorithm>/<first2>/<hex digest>``
    One file's bytes, named by its content id (``digests.py``): ``blake3:<hex>`` under ``blobs/blake3/`` for a
    blob stored since store format 2, a bare SHA-256 hex under ``blobs/sha256/`` for one stored before (still
    read, and checked with SHA-256). ``<first2>`` = the digest's first two hex digits.

``projects/<project>/trees/<tree_id>.json``
    A directory input's manifest: the canonical JSON (see ``tree_bytes``) of its entries, sorted by path.
    Each entry is ``{"path", "kind", "sha256", "size", "mode"}`` (``sha256``: the file's content id): ``path``
    is ``/``-separated and relative to the directory; ``kind`` is ``"file"`` or ``"dir"`` (directories appear
    only when they are empty, with ``sha256`` null and ``size`` 0); ``mode`` is normalised like git (``0o755``
    when any execute bit is set, else ``0o644``; ``0o755`` for directories). ``tree_id`` is the SHA-256 of
    those exact bytes, so a tree's identity depends only on names, contents and executable bits — never on
    mtimes, owners or the order a filesystem lists entries in — and the object's own hash equals its name.

``projects/<project>/staging/<lease_id>.json``
    A lease written while inputs are being staged: the blob and tree ids the stager is about to rely on.
    ``gc`` keeps everything a recent lease names, so a blob that already existed (and was therefore not
    uploaded again) cannot be collected between staging and the job record being written.

Symlinks inside a directory are followed (the target's content is staged); a symlink loop or a dangling
link is an error. Sockets, FIFOs and devices are rejected.
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import stat
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO

from airflow_provider_dsjobs.documents.codec import encode
from airflow_provider_dsjobs.documents.markers import StagingLease
from airflow_provider_dsjobs.documents.sizes import human_size
from airflow_provider_dsjobs.storage import digests
from airflow_provider_dsjobs.storage.base import CopiedIn, CopiesIn, ObjectNotFound, ObjectStore, StoreError
from airflow_provider_dsjobs.storage.hashing import (
    DEFAULT_MEMO,
    HashingReader,
    HashMemo,
    hash_file_stat,
    read_checked,
    read_hashed,
    stat_key,
)
from airflow_provider_dsjobs.storage.progress import TransferProgress

GiB = 1024**3
#: DataSphere's limits (datasphere-cli.md §7.1): one file ≤ 5 GiB, all inputs of a job ≤ 10 GiB; a job's come
#: from its settings (``Settings.max_input_file_size`` / ``max_job_input_size``).
DEFAULT_MAX_FILE_SIZE = 5 * GiB
DEFAULT_MAX_TOTAL_SIZE = 10 * GiB
#: Blobs smaller than this are uploaded several at a time; larger ones one by one (each is multipart).
_SMALL_BLOB = 8 * 1024 * 1024
_PARALLEL = 8
#: Small files not in the memo are read and hashed this many at a time.
_HASHERS = 4
#: Existence checks run one by one for at least this long; whatever remains then is checked in parallel if one
#: check took longer than ``_SLOW_EXISTS_SECONDS`` on average (a request to a server, not a ``stat``: on a busy
#: machine a thousand local checks outlast the first limit, and a thread pool would only add to them).
_SEQUENTIAL_EXISTS_SECONDS = 0.02
_SLOW_EXISTS_SECONDS = 0.0005

_PROJECT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def check_project(project: str) -> str:
    if not _PROJECT_RE.fullmatch(project or ""):
        raise StoreError(
            f"invalid project name {project!r}: use 1-100 letters, digits, '.', '_' or '-', starting alphanumeric"
        )
    return project


def project_prefix(project: str) -> str:
    return f"projects/{check_project(project)}/"


def blobs_prefix(project: str) -> str:
    """Where the project's blobs are, of every algorithm."""
    return f"{project_prefix(project)}blobs/"


def trees_prefix(project: str) -> str:
    return f"{project_prefix(project)}trees/"


def leases_prefix(project: str) -> str:
    return f"{project_prefix(project)}staging/"


def blob_key(project: str, content_id: str) -> str:
    return f"{blobs_prefix(project)}{digests.blob_path(content_id)}"


def blob_id(project: str, key: str) -> str | None:
    """The content id of the blob at ``key`` (``blob_key``'s form), or None for anything else."""
    prefix = blobs_prefix(project)
    return digests.from_blob_path(key[len(prefix) :]) if key.startswith(prefix) else None


def tree_key(project: str, tree_id: str) -> str:
    return f"{trees_prefix(project)}{digests.check_tree_id(tree_id)}.json"


@dataclass(frozen=True)
class TreeEntry:
    """One file (or empty directory) of a directory input."""

    path: str
    kind: str = "file"
    sha256: str | None = None
    size: int = 0
    mode: int = 0o644

    def to_doc(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "sha256": self.sha256, "size": self.size, "mode": self.mode}

    @classmethod
    def from_doc(cls, data: Mapping[str, Any]) -> TreeEntry:
        return cls(
            path=str(data["path"]),
            kind=str(data.get("kind", "file")),
            sha256=data.get("sha256"),
            size=int(data.get("size", 0)),
            mode=int(data.get("mode", 0o644)),
        )


def tree_bytes(entries: Iterable[TreeEntry]) -> bytes:
    """The canonical JSON of ``entries``: sorted by path, sorted keys, no whitespace, UTF-8."""
    ordered = sorted(entries, key=lambda e: e.path)
    return json.dumps([e.to_doc() for e in ordered], sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def tree_id(entries: Iterable[TreeEntry]) -> str:
    return digests.tree_id_of(tree_bytes(entries))


def _normal_mode(st_mode: int) -> int:
    if stat.S_ISDIR(st_mode):
        return 0o755
    return 0o755 if st_mode & 0o111 else 0o644


@dataclass
class StagedInput:
    """One staged input. ``sha256`` is the file's content id (``digests.py``), or the tree id for a directory.
    ``entries`` for a file holds one entry whose ``path`` is the file's base name; for a directory, its
    tree entries. ``size`` is the total of the file sizes."""

    kind: str
    sha256: str
    size: int
    entries: list[TreeEntry]
    local_path: Path | None  # None: adopted from the cache, no local copy

    def local_hints(self) -> dict[str, Path]:
        """``sha256 → local file`` for every file of this input (for ``BlobSource``)."""
        if self.local_path is None:
            return {}
        if self.kind == "file":
            return {self.sha256: self.local_path}
        return {e.sha256: self.local_path / e.path for e in self.entries if e.kind == "file" and e.sha256}


@dataclass
class StageStats:
    bytes_total: int = 0
    bytes_uploaded: int = 0
    files_total: int = 0
    files_uploaded: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class _ScannedFile:
    relpath: str
    path: Path
    size: int
    mode: int
    scanned_stat: os.stat_result


@dataclass
class _Scanned:
    kind: str
    path: Path
    files: list[_ScannedFile] = field(default_factory=list)
    empty_dirs: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)


@dataclass(frozen=True)
class _HashedFile:
    """A scanned file with its content hash and its ``stat`` as it was while hashed (to detect later changes);
    ``copy``: the store's copy made while it was hashed (``CopiesIn``), until it is named or dropped."""

    scanned: _ScannedFile
    sha256: str
    stat: os.stat_result
    copy: Path | None = None

    @property
    def path(self) -> Path:
        return self.scanned.path

    @property
    def size(self) -> int:
        return self.stat.st_size


def _stat(path: Path) -> os.stat_result:
    try:
        return os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise StoreError(f"input {path} is a dangling symlink") from None
        raise StoreError(f"input {path} does not exist") from None
    except OSError as exc:
        raise StoreError(f"cannot read input {path}: {exc.strerror or exc}") from None


def _scan(path: Path) -> _Scanned:
    st = _stat(path)
    if stat.S_ISREG(st.st_mode):
        return _Scanned("file", path, [_ScannedFile(path.name, path, st.st_size, _normal_mode(st.st_mode), st)])
    if not stat.S_ISDIR(st.st_mode):
        raise StoreError(f"input {path} is not a regular file or directory")
    scanned = _Scanned("dir", path)
    _walk(path, "", scanned, {(st.st_dev, st.st_ino)})
    return scanned


def _walk(directory: Path, rel: str, scanned: _Scanned, ancestors: set[tuple[int, int]]) -> None:
    try:
        with os.scandir(directory) as listing:
            entries = sorted(listing, key=lambda e: e.name)
    except OSError as exc:
        raise StoreError(f"cannot list input directory {directory}: {exc.strerror or exc}") from None
    if not entries and rel:
        scanned.empty_dirs.append(rel)
    for entry in entries:
        child = directory / entry.name
        child_rel = f"{rel}/{entry.name}" if rel else entry.name
        try:
            st = entry.stat()  # follows symlinks, as os.stat does (a thousand files: no pathlib per stat)
        except OSError:
            st = _stat(child)  # raises the wording for what went wrong (or, if it was a race, stats it now)
        if stat.S_ISREG(st.st_mode):
            scanned.files.append(_ScannedFile(child_rel, child, st.st_size, _normal_mode(st.st_mode), st))
        elif stat.S_ISDIR(st.st_mode):
            ident = (st.st_dev, st.st_ino)
            if ident in ancestors:
                raise StoreError(f"input {child} is a symlink loop")
            _walk(child, child_rel, scanned, ancestors | {ident})
        else:
            raise StoreError(f"input {child} is not a regular file or directory (sockets, FIFOs and devices)")


def _describe(
    scans: Sequence[_Scanned], hashed: Sequence[Sequence[_HashedFile]]
) -> tuple[list[StagedInput], dict[str, bytes]]:
    """The staged inputs, and the bytes of each directory's tree by tree id."""
    staged: list[StagedInput] = []
    trees: dict[str, bytes] = {}
    for scanned, files in zip(scans, hashed, strict=True):
        entries = [TreeEntry(f.scanned.relpath, "file", f.sha256, f.size, f.scanned.mode) for f in files]
        if scanned.kind == "file":
            staged.append(StagedInput("file", files[0].sha256, files[0].size, entries, scanned.path))
            continue
        entries += [TreeEntry(d, "dir", None, 0, 0o755) for d in scanned.empty_dirs]
        entries.sort(key=lambda e: e.path)
        data = tree_bytes(entries)
        tid = digests.tree_id_of(data)
        trees[tid] = data
        staged.append(StagedInput("dir", tid, sum(f.size for f in files), entries, scanned.path))
    return staged, trees


def _changed_while_uploaded(f: _HashedFile) -> StoreError:
    return StoreError(f"input {f.path} changed while it was being uploaded: retry when nothing writes to it")


class InputStager:
    """Hashes inputs and uploads the blobs (and trees) the store does not have yet.

    ``progress`` reports the upload (default: none). Limits are checked on the sizes found while
    scanning, before anything is hashed or uploaded, across everything this stager stages.
    """

    def __init__(
        self,
        store: ObjectStore,
        project: str,
        progress: TransferProgress | None = None,
        *,
        max_file_size: int = DEFAULT_MAX_FILE_SIZE,
        max_total_size: int = DEFAULT_MAX_TOTAL_SIZE,
        memo: HashMemo | None = DEFAULT_MEMO,
    ) -> None:
        self.store = store
        self.project = check_project(project)
        self.progress = progress
        self.max_file_size = max_file_size
        self.max_total_size = max_total_size
        self.memo = memo
        self.stats = StageStats()
        self.lease_key: str | None = None
        self._leased: set[str] = set()
        #: The store, if it takes copies before their keys are known (checked once: a protocol check is slow).
        self._copies_in: CopiesIn | None = store if isinstance(store, CopiesIn) else None

    def stage(self, path: Path) -> StagedInput:
        """Stage one file or directory."""
        return self.stage_all([path])[0]

    def stage_all(self, paths: Sequence[Path]) -> list[StagedInput]:
        """Stage several inputs; the limits cover all of them together, before any upload."""
        started = time.monotonic()
        scans = [_scan(Path(p)) for p in paths]
        self._check_limits([(s.path, s.files) for s in scans])
        hashed = self._hash_all(scans)
        try:
            self._check_limits([(s.path, files) for s, files in zip(scans, hashed, strict=True)])  # grown since?
            staged, trees = _describe(scans, hashed)
            self._publish(hashed, trees)
        finally:  # copies made while hashing that were not needed (the store had the content) or not reached
            self._drop_copies(hashed)
        self.stats.bytes_total += sum(s.size for s in staged)
        self.stats.files_total += sum(len(files) for files in hashed)
        self.stats.seconds += time.monotonic() - started
        return staged

    # -- hashing ---------------------------------------------------------------------------------------------------

    def _hash_all(self, scans: Sequence[_Scanned]) -> list[list[_HashedFile]]:
        """The files of each input, hashed: from the memo when it knows the file's stat from the scan (moments
        ago), which spares a second ``stat`` per file in a cached re-run; else by reading it, small files several
        at a time (hashlib and reads release the GIL). On an error, no copy made while hashing is left."""
        files = [f for scanned in scans for f in scanned.files]
        memo = self.memo
        if memo is not None:  # one look-up for all files, not one per file (a persistent memo: one query)
            memo.preload([f.path for f in files])
        done: list[_HashedFile | None] = [None] * len(files)
        for i, f in enumerate(files):
            if memo is not None and (sha := memo.get(stat_key(f.path.absolute(), f.scanned_stat))):
                done[i] = _HashedFile(f, sha, f.scanned_stat)
        small = [i for i, h in enumerate(done) if h is None and files[i].size < _SMALL_BLOB]
        try:
            if len(small) > 1:
                with ThreadPoolExecutor(max_workers=_HASHERS, thread_name_prefix="dsjobs-hash") as pool:
                    for i, h in zip(small, pool.map(self._read, [files[i] for i in small]), strict=True):
                        done[i] = h
            for i, f in enumerate(files):
                if done[i] is None:
                    done[i] = self._read(f)
        except BaseException:
            self._drop_copies([[h for h in done if h is not None]])
            raise
        if memo is not None:
            memo.flush()  # a persistent memo: the next process (or a crash-retry) skips these reads
        hashed = iter([h for h in done if h is not None])
        return [[next(hashed) for _ in scanned.files] for scanned in scans]

    def _read(self, f: _ScannedFile) -> _HashedFile:
        """Hash ``f`` by reading it (the caller asked the memo already). Into a ``CopiesIn`` store each byte is read
        once, as ``cp`` does: a large file is copied in by the kernel and hashed from the copy as it grows (the
        copy's own hash, inside the stat check); a small one is read whole, hashed, and written from that same
        read if the store lacks its content."""
        store = self._copies_in
        if store is None:
            return _HashedFile(f, *hash_file_stat(f.path, self.memo, lookup=False))
        if f.size < _SMALL_BLOB:
            data, sha, st = read_hashed(f.path, self.memo)
            there = store.exists(blob_key(self.project, sha))
            return _HashedFile(f, sha, st, None if there else store.copy_in_bytes(data))
        copies: list[CopiedIn] = []

        def copy(_: os.stat_result) -> tuple[str, int]:
            copies.append(store.copy_in(f.path))
            return copies[0].sha256, copies[0].size

        try:
            sha, st = read_checked(f.path, self.memo, copy)
        except BaseException:
            if copies:
                store.drop_copy(copies[0].path)
            raise
        return _HashedFile(f, sha, st, copies[0].path)

    def _drop_copies(self, hashed: Sequence[Sequence[_HashedFile]]) -> None:
        """Remove the copies not named (a named copy's handle no longer exists: dropping it does nothing)."""
        if self._copies_in is not None:
            for files in hashed:
                for f in files:
                    if f.copy is not None:
                        self._copies_in.drop_copy(f.copy)

    def _check_limits(self, inputs: Sequence[tuple[Path, Sequence[_ScannedFile | _HashedFile]]]) -> None:
        for _, files in inputs:
            for f in files:
                if f.size > self.max_file_size:
                    raise StoreError(
                        f"input file {f.path} is {human_size(f.size)}, over the limit of "
                        f"{human_size(self.max_file_size)} per file"
                    )
        total = self.stats.bytes_total + sum(f.size for _, files in inputs for f in files)
        if total > self.max_total_size:
            names = ", ".join(str(path) for path, _ in inputs[:3]) + (" …" if len(inputs) > 3 else "")
            raise StoreError(
                f"inputs total {human_size(total)} ({names}), over the limit of {human_size(self.max_total_size)}"
            )

    # -- publishing ------------------------------------------------------------------------------------------------

    def _publish(self, hashed: Sequence[Sequence[_HashedFile]], trees: Mapping[str, bytes]) -> None:
        """Lease every blob and tree, then upload the ones the store lacks (one upload per distinct content,
        whichever paths share it), trees last: a stored tree's blobs are all stored."""
        blobs: dict[str, _HashedFile] = {}
        for files in hashed:
            for f in files:
                blobs.setdefault(f.sha256, f)
        ids = list(blobs) + list(trees)
        self._write_lease(ids)
        keys = {sha: blob_key(self.project, sha) for sha in blobs}
        missing = self._missing(list(keys.values()))
        to_upload = [f for sha, f in blobs.items() if keys[sha] in missing]
        self._upload(to_upload)
        wrote_trees = False
        for tid, data in trees.items():
            if not self.store.exists(tree_key(self.project, tid)):
                self.store.put_bytes(tree_key(self.project, tid), data)
                wrote_trees = True
        if to_upload or wrote_trees:  # refresh: the lease's life starts after the uploads (nothing to wait for
            self._write_lease(ids)  # in a cached re-run: the first write is moments old)

    def _missing(self, keys: list[str]) -> set[str]:
        """The keys the store lacks. Checked one after another while that is quick (a local store: a stat each,
        where a thread pool would cost more than the checks), in parallel once the checks prove slow (S3: one
        request each)."""
        missing: set[str] = set()
        started = time.monotonic()
        for i, key in enumerate(keys):
            spent = time.monotonic() - started
            if spent > _SEQUENTIAL_EXISTS_SECONDS and spent > i * _SLOW_EXISTS_SECONDS and len(keys) - i > 1:
                rest = keys[i:]
                with ThreadPoolExecutor(max_workers=_PARALLEL) as pool:
                    present = list(pool.map(self.store.exists, rest))
                return missing | {k for k, there in zip(rest, present, strict=True) if not there}
            if not self.store.exists(key):
                missing.add(key)
        return missing

    def _upload(self, files: list[_HashedFile]) -> None:
        if self.progress:
            self.progress.start(len(files), sum(f.size for f in files))
        if self._copies_in is not None:
            self._copy_in_all(self._copies_in, files)
        else:
            small = [f for f in files if f.size < _SMALL_BLOB]
            large = [f for f in files if f.size >= _SMALL_BLOB]
            if len(small) > 1:
                with ThreadPoolExecutor(max_workers=_PARALLEL) as pool:
                    list(pool.map(self._put_one, small))
            else:
                for f in small:
                    self._put_one(f)
            for f in large:
                self._put_one(f)
        self.stats.bytes_uploaded += sum(f.size for f in files)
        self.stats.files_uploaded += len(files)
        if self.progress:
            self.progress.finish()

    def _put_one(self, f: _HashedFile) -> None:
        key = blob_key(self.project, f.sha256)
        self.store.put_file(key, f.path, self.progress.update if self.progress else None)
        if not self._unchanged(f):
            self.store.delete(key)
            raise _changed_while_uploaded(f)

    def _copy_in_all(self, store: CopiesIn, files: list[_HashedFile]) -> None:
        """Copy in the files not copied while hashed (several at a time), then name all copies in one batch."""

        def copied(f: _HashedFile) -> Path:
            if f.copy is not None:  # copied while hashed, inside its stat check
                return f.copy
            copy = store.copy_in(f.path)
            made.append(copy.path)
            if copy.sha256 != f.sha256 or not self._unchanged(f):
                raise _changed_while_uploaded(f)
            return copy.path

        made: list[Path] = []
        try:
            if len(files) > 1:
                with ThreadPoolExecutor(max_workers=_PARALLEL) as pool:
                    copies = list(pool.map(copied, files))
            else:
                copies = [copied(f) for f in files]
        except BaseException:
            for copy in made:
                store.drop_copy(copy)
            raise
        keys = [blob_key(self.project, f.sha256) for f in files]
        store.commit_copies(list(zip(copies, keys, strict=True)), self.progress.update if self.progress else None)

    def _unchanged(self, f: _HashedFile) -> bool:
        """Whether ``f`` still has the stat it had when hashed: a blob must hold exactly the bytes its name
        promises, and a file rewritten since hashing would break that."""
        return stat_key(f.path, f.stat) == stat_key(f.path, _stat(f.path))

    def adopt(self, kind: str, content_id: str, size: int, mode: int = 0o644) -> StagedInput:
        """An input already in the cache (a fork's unchanged input), by its blob sha256 or tree id: leased like a
        staged one, nothing read locally. ``StoreError`` when the blob or tree is gone (collected by gc)."""
        if kind == "dir":
            entries = load_tree(self.store, self.project, content_id)
            ids = [content_id] + [e.sha256 for e in entries if e.sha256]
        else:
            entries = [TreeEntry(digests.parse(content_id)[1][:12], "file", content_id, size, mode)]
            ids = [content_id]
        self._write_lease(ids)  # first: gc keeps what a lease names, so the checks below stay true
        missing = self._missing([blob_key(self.project, i) for i in ids if i != content_id or kind == "file"])
        if missing:
            key = sorted(missing)[0]
            raise StoreError(f"stored input {content_id[:12]}… is incomplete: {self.store.uri(key)} is gone")
        return StagedInput(kind, content_id, size, entries, None)

    def _write_lease(self, ids: list[str]) -> None:
        if self.lease_key is None:
            stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
            self.lease_key = f"{leases_prefix(self.project)}{stamp}-{secrets.token_hex(8)}.json"
        self._leased.update(ids)
        lease = StagingLease(datetime.now(timezone.utc), tuple(sorted(self._leased)))
        self.store.put_bytes(self.lease_key, encode(lease.to_doc()))

    def release(self) -> None:
        """Drop this stager's lease once the job record (which references the inputs) is saved."""
        if self.lease_key is not None:
            self.store.delete(self.lease_key)
            self.lease_key = None


class BlobSource:
    """Reads blobs for delivery into a container: from the submitter's local file when one is known and
    still looks the same, else streamed from the store. Store reads are checked against the hash."""

    def __init__(
        self,
        store: ObjectStore,
        project: str,
        local_hints: Mapping[str, Path] | None = None,
        *,
        memo: HashMemo | None = DEFAULT_MEMO,
    ) -> None:
        self.store = store
        self.project = check_project(project)
        self.local_hints = dict(local_hints or {})
        self.memo = memo

    def _local(self, sha256: str, size: int | None) -> Path | None:
        hint = self.local_hints.get(sha256)
        if hint is None:
            return None
        try:
            st = os.stat(hint)
        except OSError:
            return None
        if not stat.S_ISREG(st.st_mode):
            return None
        if self.memo is not None and self.memo.get(stat_key(Path(hint).absolute(), st)) == sha256:
            return Path(hint)
        if size is None:
            size = self.store.size(blob_key(self.project, sha256))
            if size is None:  # the store lacks it: the local file is the only copy there is
                return Path(hint)
        return Path(hint) if st.st_size == size else None

    def open(self, sha256: str, size: int | None = None) -> BinaryIO:
        """A reader for the blob (the caller closes it). ``size``, when known, avoids a store request."""
        local = self._local(digests.check(sha256), size)
        if local is not None:
            try:
                return open(local, "rb")
            except OSError:
                pass
        key = blob_key(self.project, sha256)
        try:
            raw = self.store.open_read(key)
        except ObjectNotFound:
            raise StoreError(
                f"input blob {sha256[:12]}… is missing from {self.store.uri(key)}: was it garbage-collected?"
            ) from None
        return io.BufferedReader(HashingReader(raw, sha256, f"input blob {self.store.uri(key)}"))

    def load_tree(self, tree_id: str) -> list[TreeEntry]:
        return load_tree(self.store, self.project, tree_id)


def load_tree(store: ObjectStore, project: str, tree_id: str) -> list[TreeEntry]:
    """The entries of a stored tree, checked against its id."""
    key = tree_key(project, tree_id)
    try:
        data = store.get_bytes(key)
    except ObjectNotFound:
        raise StoreError(f"input tree {tree_id[:12]}… is missing from {store.uri(key)}") from None
    if digests.tree_id_of(data) != tree_id:
        raise StoreError(f"input tree {store.uri(key)} is corrupt: its content does not match its id")
    try:
        return [TreeEntry.from_doc(item) for item in json.loads(data)]
    except (ValueError, KeyError, TypeError) as exc:
        raise StoreError(f"input tree {store.uri(key)} is not a valid tree: {exc}") from None
