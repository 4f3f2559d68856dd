"""Datasets materialized once per engine: a read-only Docker volume per project, dataset and content.

DataSphere attaches a dataset to the job's VM as a read-only disk; here a dataset becomes a named volume on the
job's engine, filled once and mounted **read-only** at the dataset's path by every later job of the project on
that engine. Nothing of the dataset then travels through the submitting process again.

* **Name and labels.** ``dsjobs-dataset-<project>-<digest>``: the digest covers the project, the dataset ID and
  the manifest's content (its creation time and every file's path, hash and size), so a dataset removed and
  created again under the same ID gets a new volume, and another project's dataset of the same ID another one.
  Labels: ``dsjobs.project``, ``dsjobs.cache=dataset``, ``dsjobs.dataset=<id>`` (``dsjobs.managed=1`` is the
  runtime's).
* **Fill.** A helper container (``dsjobs.helper=dataset-fill``, from the job's image, never started: it only
  carries the volume, mounted read-write at ``/fill``) receives the dataset's files from the store through the
  engine API (``put_archive``: no shared filesystem, so a remote engine works). Each file is hashed as it streams
  and checked against the manifest's SHA-256 and size; only when every file passed is the **ready marker**
  (``.dsjobs/ready``, a small JSON document) written. A volume without it is never used: a fill that failed (a
  corrupt store blob, a lost engine) leaves no marker, and the next job fills it again (rewriting every file).
* **Once per engine.** The helper container's *name* is the lock: ``dsjobs-fill-<volume>``. The engine refuses a
  second container of that name, so of several jobs starting together one fills and the others wait for the
  marker (or for the lock to go, then look again). A lock older than ``FILL_TIMEOUT`` is taken as left by a dead
  filler and removed.
* **Read-only.** Jobs mount the volume ``ro``: a job cannot change what another job will read.
"""

from __future__ import annotations

import hashlib
import io
import json
import posixpath
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import BinaryIO, cast

from airflow_provider_dsjobs.resources.fill_lock import LABEL_FILL_BY, LABEL_FILL_OF, lock_name, take_lock
from airflow_provider_dsjobs.runtime.base import ContainerRuntime
from airflow_provider_dsjobs.runtime.errors import PathNotFound, RuntimeFailure
from airflow_provider_dsjobs.runtime.helper import helper_spec
from airflow_provider_dsjobs.runtime.tarstream import TarDir, TarEntry, TarFile, tar_stream
from airflow_provider_dsjobs.runtime.volumes import CACHE_DATASET, CACHE_LABEL
from airflow_provider_dsjobs.storage.base import ObjectStore, StoreError

VOLUME_PREFIX = "dsjobs-dataset-"
LABEL_PROJECT = "dsjobs.project"
LABEL_DATASET = "dsjobs.dataset"
CACHE_KIND = CACHE_DATASET
FILL_HELPER = "dataset-fill"
#: Where the fill helper mounts the volume.
FILL_MOUNT = "fill"
#: The ready marker, relative to the volume's root (the job sees it at ``<dataset path>/.dsjobs/ready``).
MARKER_DIR = ".dsjobs"
READY_MARKER = f"{MARKER_DIR}/ready"
#: Seconds a fill may hold the lock; an older lock is taken as left by a dead filler.
FILL_TIMEOUT = 3600.0
#: Seconds between two looks of a job waiting for another's fill.
POLL_INTERVAL = 0.5
_NAME_PROJECT_CHARS = 40
_HEX64 = re.compile(r"[0-9a-f]{64}")


class DatasetVolumeError(StoreError):
    """A dataset could not be materialized on the engine (one line: which dataset, which file, why)."""


@dataclass(frozen=True)
class DatasetFile:
    path: str
    sha256: str
    size: int


@dataclass(frozen=True)
class DatasetVolume:
    """One dataset a job reads, as the engine holds it: ``prefix`` is its key prefix in the store (ending in
    ``/``), ``files`` its manifest's files, ``container_path`` where the job mounts it."""

    project: str
    dataset_id: str
    prefix: str
    created_at: str
    files: tuple[DatasetFile, ...]
    container_path: str

    @property
    def name(self) -> str:
        safe = re.sub(r"[^A-Za-z0-9_.-]", "-", self.project)[:_NAME_PROJECT_CHARS].strip("-._") or "project"
        content = hashlib.sha256()
        for part in (self.project, self.dataset_id, self.created_at):
            content.update(part.encode() + b"\0")
        for f in self.files:
            content.update(f"{f.path}\0{f.sha256}\0{f.size}\0".encode())
        return f"{VOLUME_PREFIX}{safe}-{content.hexdigest()[:24]}"

    @property
    def labels(self) -> dict[str, str]:
        return {LABEL_PROJECT: self.project, CACHE_LABEL: CACHE_KIND, LABEL_DATASET: self.dataset_id}

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def ready_path(self) -> str:
        """The marker's path in a job container that mounts the volume."""
        return posixpath.join(self.container_path, READY_MARKER)

    @property
    def mount(self) -> dict[str, str]:
        return {"bind": self.container_path, "mode": "ro"}


def checked_files(dataset_id: str, files: list[DatasetFile]) -> tuple[DatasetFile, ...]:
    """The manifest's files, each path checked (a store entry is hostile): relative, normalized, no ``..``, not
    the marker's directory, no NUL; hashes are 64 hex digits. Anything else is a ``DatasetVolumeError``."""
    for f in files:
        p = f.path
        bad = (
            not p
            or "\0" in p
            or p.startswith("/")
            or posixpath.normpath(p) != p
            or p == ".."
            or p.startswith("../")
            or p.split("/", 1)[0] == MARKER_DIR
            or len(p.encode()) > 4096
        )
        if bad:
            raise DatasetVolumeError(
                f"dataset {dataset_id!r}: its manifest lists the file {p[:200]!r}, which is not a plain relative path "
                "inside the dataset: it cannot be materialized"
            )
        if not _HEX64.fullmatch(f.sha256) or f.size < 0:
            raise DatasetVolumeError(f"dataset {dataset_id!r}: its manifest has no valid SHA-256 and size for {p!r}")
    return tuple(files)


class _Verified(io.RawIOBase):
    """A store object read through a SHA-256: once ``size`` bytes have passed, a hash other than the manifest's
    records the failure in ``errors`` and raises (the tar stream, and with it the fill, stops there)."""

    def __init__(self, stream: BinaryIO, f: DatasetFile, dataset_id: str, errors: list[str]) -> None:
        super().__init__()
        self._stream, self._file, self._id, self._errors = stream, f, dataset_id, errors
        self._digest = hashlib.sha256()
        self._seen = 0
        self._checked = False

    def readable(self) -> bool:
        return True

    def read(self, n: int | None = -1) -> bytes:
        data: bytes = self._stream.read(-1 if n is None else n)
        self._digest.update(data)
        self._seen += len(data)
        if not self._checked and self._seen >= self._file.size:
            self._checked = True
            self._check()
        return data

    def _check(self) -> None:
        got = self._digest.hexdigest()
        if got != self._file.sha256:
            msg = (
                f"dataset {self._id!r}: the stored file {self._file.path!r} does not match its manifest (SHA-256 "
                f"{got[:16]}..., expected {self._file.sha256[:16]}...): the store's copy is corrupt; the dataset was "
                "not materialized"
            )
            self._errors.append(msg)
            raise DatasetVolumeError(msg)

    def close(self) -> None:
        self._stream.close()
        super().close()


def fill_entries(store: ObjectStore, ds: DatasetVolume, errors: list[str]) -> Iterator[TarEntry]:
    """The tar entries that fill the volume mounted at ``/fill``: directories, then every file (read-only),
    each verified as it streams; a failure is appended to ``errors`` (the runtime may word the exception its way)."""
    done: set[str] = set()

    def parents(rel: str) -> Iterator[TarEntry]:
        parts = rel.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in done:
                done.add(d)
                yield TarDir(f"{FILL_MOUNT}/{d}", mode=0o755)

    yield TarDir(FILL_MOUNT, mode=0o755)
    for f in ds.files:
        yield from parents(f.path)
        yield TarFile(f"{FILL_MOUNT}/{f.path}", size=f.size, opener=_opener(store, ds, f, errors), mode=0o444)


def _opener(store: ObjectStore, ds: DatasetVolume, f: DatasetFile, errors: list[str]) -> Callable[[], BinaryIO]:
    def open_verified() -> BinaryIO:
        if f.size == 0:
            _Verified(io.BytesIO(b""), f, ds.dataset_id, errors)._check()
        try:
            stream = store.open_read(ds.prefix + f.path)
        except StoreError as exc:
            errors.append(f"dataset {ds.dataset_id!r}: cannot read {f.path!r} from the store: {exc}")
            raise
        return cast(BinaryIO, _Verified(stream, f, ds.dataset_id, errors))

    return open_verified


def marker_entries(ds: DatasetVolume, filled_by: str) -> list[TarEntry]:
    doc = {
        "dataset": ds.dataset_id,
        "project": ds.project,
        "files": len(ds.files),
        "size": ds.size,
        "filled_by": filled_by,
        "filled_at": datetime.now(timezone.utc).isoformat(),
    }
    data = json.dumps(doc, sort_keys=True).encode() + b"\n"
    return [
        TarDir(f"{FILL_MOUNT}/{MARKER_DIR}", mode=0o755),
        TarFile(f"{FILL_MOUNT}/{READY_MARKER}", size=len(data), opener=lambda: io.BytesIO(data), mode=0o444),
    ]


@dataclass
class Filler:
    """Brings one dataset's volume to ready on ``runtime``: ``is_ready()`` looks for the marker (through a
    container that mounts the volume); ``filled_by`` names who fills (a job ID), recorded in the marker."""

    runtime: ContainerRuntime
    store: ObjectStore
    image: str
    filled_by: str
    say: Callable[[str], None]
    fill_timeout: float = FILL_TIMEOUT
    poll_interval: float = POLL_INTERVAL
    #: Whether the job (ID) whose launch holds a fill lock is gone (``fill_lock.take_lock``).
    holder_gone: Callable[[str], bool] | None = None

    def ensure(self, ds: DatasetVolume, is_ready: Callable[[], bool]) -> bool:
        """Fill ``ds`` unless it is ready, or wait for the job filling it; True when this call filled it."""
        waited = False
        deadline = time.monotonic() + self.fill_timeout
        while not is_ready():
            lock = self._take_lock(ds)
            if lock is not None and self._filled_meanwhile(lock):
                self.runtime.remove(lock, force=True)  # another job's fill ended between our look and the lock
                continue
            if lock is not None:
                self._fill(ds, lock)
                return True
            if not waited:
                self.say(f"dataset {ds.dataset_id}: another job is filling volume {ds.name}; waiting for it")
                waited = True
            if time.monotonic() > deadline:
                raise DatasetVolumeError(
                    f"dataset {ds.dataset_id}: volume {ds.name} was still being filled after {self.fill_timeout:.0f} s"
                )
            time.sleep(self.poll_interval)
        self.say(f"dataset {ds.dataset_id}: volume {ds.name} ready, mounted read-only (no copy)")
        return False

    def _filled_meanwhile(self, lock: str) -> bool:
        try:
            self.runtime.export(lock, f"/{FILL_MOUNT}/{READY_MARKER}").close()
        except PathNotFound:
            return False
        return True

    def _take_lock(self, ds: DatasetVolume) -> str | None:
        labels = {
            LABEL_PROJECT: ds.project,
            LABEL_DATASET: ds.dataset_id,
            LABEL_FILL_OF: ds.name,
            LABEL_FILL_BY: self.filled_by,
        }
        spec = replace(
            helper_spec(self.image, ["/bin/true"], labels, FILL_HELPER),
            name=lock_name(ds.name),
            volumes={ds.name: {"bind": f"/{FILL_MOUNT}", "mode": "rw"}},
        )
        return take_lock(self.runtime, spec, ds.name, self.fill_timeout, self.say, self.holder_gone)

    def _fill(self, ds: DatasetVolume, lock: str) -> None:
        started = time.monotonic()
        self.say(f"dataset {ds.dataset_id}: filling volume {ds.name} ({len(ds.files)} files, {ds.size} bytes)")
        errors: list[str] = []
        try:
            try:
                self.runtime.put_archive(lock, "/", tar_stream(fill_entries(self.store, ds, errors)))
            except (RuntimeFailure, StoreError) as exc:
                if errors:
                    raise DatasetVolumeError(errors[0]) from None
                raise DatasetVolumeError(f"dataset {ds.dataset_id}: filling volume {ds.name} failed: {exc}") from None
            self.runtime.put_archive(lock, "/", tar_stream(marker_entries(ds, self.filled_by)))
        finally:
            self.runtime.remove(lock, force=True)
        self.say(f"dataset {ds.dataset_id}: volume {ds.name} filled and verified in {time.monotonic() - started:.1f} s")
