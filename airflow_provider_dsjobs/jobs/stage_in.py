"""Stage in: everything a job's container needs before it starts, and the tar stream that delivers it.

1. ``check_datasets`` refuses a config that uses a dataset ID with nothing stored under it (before any upload).
2. ``stage_inputs`` uploads the inputs (and Python local modules) through the content-addressed cache — only
   missing blobs travel — and returns what it staged, with the ``record.inputs`` entries
   ``{path, var, kind, sha256, size}``.
3. ``archive_entries`` lists the tar entries that build the container's workspace: the declared directories,
   the staged inputs (read from the submitter's file when it is unchanged, else from the store), generated
   files (``plan.extra_bytes``) and every object of each read-write s3-mount. Each file is opened only when the
   tar stream reaches it, so nothing large is held in memory. Datasets used by ID and read-only s3-mounts are not
   copied: they are read-only engine volumes (``jobs/dataset_mounts.py``, ``jobs/s3_mount_caches.py``).
"""

from __future__ import annotations

import io
import posixpath
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TextIO

from airflow_provider_dsjobs.documents.record import ROLE_PYTHON_MODULE, InputRef
from airflow_provider_dsjobs.documents.sizes import human_size
from airflow_provider_dsjobs.jobs.errors import JobError, one_line
from airflow_provider_dsjobs.jobs.plan import JobPlan, StoredInput
from airflow_provider_dsjobs.jobs.store import JobStore
from airflow_provider_dsjobs.resources.s3_connectors import S3Source, source_store
from airflow_provider_dsjobs.runtime.tarstream import TarDir, TarEntry, TarFile
from airflow_provider_dsjobs.settings import Settings
from airflow_provider_dsjobs.storage.base import ObjectStore, StoreError
from airflow_provider_dsjobs.storage.cas import (
    DEFAULT_MAX_FILE_SIZE,
    DEFAULT_MAX_TOTAL_SIZE,
    BlobSource,
    InputStager,
    StagedInput,
)
from airflow_provider_dsjobs.storage.hash_cache import hash_memo_for
from airflow_provider_dsjobs.storage.hashing import DEFAULT_MEMO, HashMemo
from airflow_provider_dsjobs.storage.progress import TransferProgress

#: Cap on the bytes copied from one s3-mount into a container.

#: ``(container_path, staged input)`` pairs, in the order the inputs are delivered.
Staged = list[tuple[str, "StagedInput"]]


def check_datasets(jobs: JobStore, plan: JobPlan) -> None:
    """Raise ``JobError`` for the first dataset the plan uses by ID that has nothing stored under it."""
    store = jobs.store
    for ds in plan.datasets:
        prefix = jobs.datasets_prefix(ds.id)
        try:
            found = next(iter(store.list(prefix)), None)
        except StoreError as exc:
            raise JobError(one_line(exc)) from None
        if found is None:
            where = store.uri(prefix.rstrip("/"))
            raise JobError(f"unknown dataset {ds.id!r}: nothing at {where} in project {plan.project}")


@dataclass(frozen=True)
class StagedInputs:
    """What ``stage_inputs`` staged: ``delivery`` (what goes where in the container), the record's ``inputs``
    entries (``refs``) and their ``total_size``, and the ``stager`` whose lease protects the blobs from ``gc``
    until the record referencing them is saved (then ``stager.release()``). The stage-in step's result: only the
    submitter (``jobs/submitter.py``) stores ``refs`` and ``total_size`` in the record."""

    delivery: Staged
    refs: list[InputRef]
    total_size: int
    stager: InputStager


def stage_inputs(
    jobs: JobStore,
    plan: JobPlan,
    say: Callable[[str], None],
    progress_stream: TextIO | None,
    memo: HashMemo | None = DEFAULT_MEMO,
    limits: tuple[int, int] = (DEFAULT_MAX_FILE_SIZE, DEFAULT_MAX_TOTAL_SIZE),
) -> StagedInputs:
    """Upload missing input blobs (and Python local modules) through the content-addressed cache; ``say`` gets
    the upload summary. ``memo`` remembers file hashes (``storage.hash_cache.hash_memo_for(settings)``: across
    processes). ``limits``: the largest file and the largest total in bytes (the settings' ``max_input_file_size``
    and ``max_job_input_size``); inputs over either fail the job before anything is uploaded."""
    progress = TransferProgress("upload", progress_stream) if progress_stream is not None else None
    max_file, max_total = limits
    stager = InputStager(
        jobs.store, jobs.project, progress, max_file_size=max_file, max_total_size=max_total, memo=memo
    )
    wanted = [(p.local_path, p.stored) for p in plan.inputs] + [(e.local_path, e.stored) for e in plan.extra_files]
    local = [path for path, stored in wanted if stored is None]
    try:
        fresh = iter(stager.stage_all(local) if local else [])
        staged_all = [next(fresh) if stored is None else _reuse(stager, stored) for _, stored in wanted]
    except StoreError as exc:
        raise JobError(one_line(exc)) from None
    delivery: Staged = []
    refs: list[InputRef] = []
    for placement, s in zip(plan.inputs, staged_all[: len(plan.inputs)], strict=True):
        delivery.append((placement.container_path, s))
        refs.append(_ref(s, placement.path, placement.var))
    for extra, s in zip(plan.extra_files, staged_all[len(plan.inputs) :], strict=True):
        delivery.append((extra.container_path, s))
        refs.append(_ref(s, str(extra.local_path), None, ROLE_PYTHON_MODULE, extra.container_path))
    uploaded = int(stager.stats.bytes_uploaded)
    total = sum(i.size for i in refs)
    n = len(refs)
    if n and uploaded == 0:
        say(f"uploaded 0 B (all {n} inputs cached)")
    elif n and progress is None:
        say(f"uploaded {human_size(uploaded)} of {human_size(total)} ({n} inputs)")
    return StagedInputs(delivery, refs, total, stager)


def _ref(s: StagedInput, path: str, var: str | None, role: str | None = None, cpath: str | None = None) -> InputRef:
    """The ``JobRecord.inputs`` entry of a staged input (``mode``: a file's, so a fork keeps it executable)."""
    mode = s.entries[0].mode if s.kind == "file" and s.entries else 0o755
    return InputRef(path, var, s.kind, s.sha256, s.size, mode, role, cpath)


def _reuse(stager: InputStager, stored: StoredInput) -> StagedInput:
    """A fork's unchanged input, from the cache (``StoreError`` when gc removed it)."""
    return stager.adopt(stored.kind, stored.sha256, stored.size, stored.mode)


def archive_entries(jobs: JobStore, settings: Settings, plan: JobPlan, staged: Staged) -> Iterator[TarEntry]:
    """The tar entries that build the workspace: directories, inputs, read-write s3-mounts (lazily opened).
    Datasets and read-only s3-mounts are not copied: they are read-only volumes on the engine."""
    store = jobs.store

    hints: dict[str, Path] = {}
    for _, s in staged:
        hints.update(s.local_hints())
    source = BlobSource(store, jobs.project, hints, memo=hash_memo_for(settings))
    dirs_done: set[str] = set()

    def parents(path: str) -> Iterator[TarEntry]:
        """Directory entries for every missing parent of ``path`` (world-writable: any container user)."""
        parts = path.strip("/").split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in dirs_done:
                dirs_done.add(d)
                yield TarDir(d, mode=0o777)

    for d in plan.directories:
        yield from parents(d + "/x")
    for cpath, s in staged:
        if s.kind == "file":
            yield from parents(cpath)
            yield TarFile(
                cpath.lstrip("/"),
                size=int(s.size),
                opener=_opener(source, s.sha256, s.size),
                mode=s.entries[0].mode if s.entries else 0o644,
            )
            continue
        yield from parents(cpath + "/x")
        for entry in s.entries:
            full = posixpath.join(cpath, entry.path)
            yield from parents(full)
            if entry.kind == "dir":
                yield from parents(full + "/x")
            elif entry.sha256:
                yield TarFile(
                    full.lstrip("/"),
                    size=entry.size,
                    opener=_opener(source, entry.sha256, entry.size),
                    mode=entry.mode,
                )
    for extra in plan.extra_bytes:
        yield from parents(extra.container_path)
        yield TarFile(extra.container_path.lstrip("/"), size=len(extra.content), opener=_bytes_opener(extra.content))
    for mount in plan.s3_mounts:
        if not mount.source.read_write:
            continue  # a read-only mount is an engine cache, mounted read-only (jobs/s3_mount_caches.py)
        yield from parents(mount.container_path + "/x")
        yield from s3_mount_entries(mount.source, mount.container_path, parents)


def s3_mount_entries(
    source: S3Source, container_path: str, parents: Callable[[str], Iterator[TarEntry]]
) -> Iterator[TarEntry]:
    """Tar entries for every object under the mount's ``s3://bucket/prefix``, streamed through an ``S3Store``
    with the mount's own endpoint and credentials (they stay on this side), refused past its ``max_bytes``
    when it has one. ``parents`` yields the missing parent directories of a path. A listing failure is a
    ``JobError`` naming the mount."""
    url = source.url
    try:
        mount = source_store(source)
        total = 0
        for info in mount.list(""):
            rel = info.key  # relative to the mount's prefix
            if not rel or rel.endswith("/"):
                continue  # "directory" marker objects
            total += info.size
            if source.max_bytes is not None and total > source.max_bytes:
                raise JobError(
                    f"s3-mount {url} holds more than its connector's limit of {source.max_bytes} bytes; "
                    "it cannot be copied in (raise --max-bytes with `dsjobs s3-connector add`)"
                )
            full = posixpath.join(container_path, rel)
            yield from parents(full)
            # The object's time: a read-write mount's sync then passes over the files the job left untouched.
            mtime = info.modified.timestamp() if info.modified else None
            mode = 0o666 if source.read_write else 0o444
            yield TarFile(full.lstrip("/"), size=info.size, opener=_store_opener(mount, rel), mode=mode, mtime=mtime)
    except StoreError as exc:
        raise JobError(f"s3-mount {url}: {one_line(exc)}") from None


# -- openers: each returns a function the tar stream calls when it reaches the file ------------------------------


def _opener(source: BlobSource, sha: str, size: int | None = None) -> Callable[[], BinaryIO]:
    def open_blob() -> BinaryIO:
        result: BinaryIO = source.open(sha, size)
        return result

    return open_blob


def _bytes_opener(content: bytes) -> Callable[[], BinaryIO]:
    return lambda: io.BytesIO(content)


def _store_opener(store: ObjectStore, key: str) -> Callable[[], BinaryIO]:
    return lambda: store.open_read(key)
