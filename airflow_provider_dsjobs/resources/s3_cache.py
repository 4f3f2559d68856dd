"""Read-only s3-mounts as engine-side caches: one Docker volume per project, endpoint and bucket/prefix, brought up
to date incrementally before each job and mounted **read-only** at the mount's path.

DataSphere mounts an S3 connector into the VM and reads it on demand; copying the whole prefix into every job's
container (what dsjobs did before) costs the full size on every run. Here:

* **Volume.** ``dsjobs-s3-<project>-<digest of project, endpoint and URL>``, labels ``dsjobs.project``,
  ``dsjobs.cache=s3-mount``, ``dsjobs.s3-mount=<mount ID>``. It holds the objects as files and
  ``.dsjobs/state.json``: the ETag and size each file was fetched with.
* **Update.** The submitting process lists the prefix (with the connector's credentials: they never reach the
  engine, the helper or the job) and compares the listing with the state: only objects that are new or whose
  ETag or size changed are fetched (streamed into the volume through a helper container, ``put_archive``), and
  files whose objects are gone are deleted (the helper runs ``rm``). The state is written before (changed entries
  dropped) and after, so an update cut short is redone by the next job. Nothing changed: one listing and one
  small read, no helper at all.
* **Once at a time.** The helper's name is the engine-wide lock (``fill_lock.py``); a job that finds it held
  waits, then looks again.
* **Hostile keys.** An object key becomes a path in the volume only when it is a plain relative path: no ``..``,
  no leading ``/``, no empty or over-long (255 bytes) component, not under ``.dsjobs``, not both an object and a
  "directory" of others. Other objects are left out and named in one warning line.

A running job sees the files of its start; a later job's update may change them under it (as objects change
under a live S3 mount). Read-write mounts keep the copy into the job's container and the write-back at the end
(``jobs/s3_sync.py``).
"""

from __future__ import annotations

import hashlib
import io
import json
import posixpath
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, BinaryIO, cast

from airflow_provider_dsjobs.resources.fill_lock import LABEL_FILL_BY, LABEL_FILL_OF, lock_name, take_lock
from airflow_provider_dsjobs.runtime.base import ContainerRuntime
from airflow_provider_dsjobs.runtime.errors import PathNotFound, RuntimeFailure, WaitTimeout
from airflow_provider_dsjobs.runtime.helper import helper_spec
from airflow_provider_dsjobs.runtime.tarstream import TarDir, TarEntry, TarFile, tar_stream
from airflow_provider_dsjobs.runtime.volumes import CACHE_LABEL, CACHE_S3_MOUNT
from airflow_provider_dsjobs.storage.base import ObjectInfo, ObjectStore, StoreError

VOLUME_PREFIX = "dsjobs-s3-"
LABEL_PROJECT = "dsjobs.project"
LABEL_MOUNT = "dsjobs.s3-mount"
CACHE_KIND = CACHE_S3_MOUNT
SYNC_HELPER = "s3-cache"
#: Where the helper mounts the volume.
HELPER_MOUNT = "cache"
MARKER_DIR = ".dsjobs"
STATE_FILE = f"{MARKER_DIR}/state.json"
DELETE_LIST = f"{MARKER_DIR}/delete"
UPDATE_TIMEOUT = 3600.0
POLL_INTERVAL = 0.5
#: Longest file name component most filesystems take.
NAME_MAX = 255
_STATE_LIMIT = 64 << 20
_NAME_PROJECT_CHARS = 40
#: The helper's command: delete the listed files, then directories left empty (not the state's).
_DELETE_SCRIPT = (
    f"cd /{HELPER_MOUNT} && xargs -0 rm -f -- < {DELETE_LIST} && rm -f {DELETE_LIST} && "
    f"{{ find . -mindepth 1 -depth -type d -empty ! -path ./{MARKER_DIR} -delete 2>/dev/null || true; }}"
)

#: key -> (etag, size)
State = dict[str, tuple[str, int]]


class S3CacheError(StoreError):
    """An s3-mount's cache could not be brought up to date (one line)."""


@dataclass(frozen=True)
class S3CacheVolume:
    project: str
    mount_id: str
    url: str
    endpoint: str | None
    container_path: str
    max_bytes: int | None = None

    @property
    def name(self) -> str:
        safe = re.sub(r"[^A-Za-z0-9_.-]", "-", self.project)[:_NAME_PROJECT_CHARS].strip("-._") or "project"
        digest = hashlib.sha256(f"{self.project}\0{self.endpoint or ''}\0{self.url}".encode()).hexdigest()[:24]
        return f"{VOLUME_PREFIX}{safe}-{digest}"

    @property
    def labels(self) -> dict[str, str]:
        return {LABEL_PROJECT: self.project, CACHE_LABEL: CACHE_KIND, LABEL_MOUNT: self.mount_id}

    @property
    def mount(self) -> dict[str, str]:
        return {"bind": self.container_path, "mode": "ro"}

    @property
    def state_path(self) -> str:
        """The state's path in a job container that mounts the volume."""
        return posixpath.join(self.container_path, STATE_FILE)


@dataclass
class CacheUpdate:
    """What one update did: objects fetched (and their bytes), files deleted, files kept, keys refused."""

    mount_id: str
    fetched: int = 0
    fetched_bytes: int = 0
    deleted: int = 0
    unchanged: int = 0
    refused: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return (
            f"s3-mount {self.mount_id}: cache up to date, fetched {self.fetched} new or changed object(s) "
            f"({self.fetched_bytes} bytes), deleted {self.deleted}, {self.unchanged} unchanged; mounted read-only"
        )


def safe_key(key: str) -> bool:
    """Whether an object key can be a file of the cache as it is."""
    if not key or "\0" in key or key.startswith("/") or key.endswith("/"):
        return False
    parts = key.split("/")
    if parts[0] == MARKER_DIR or posixpath.normpath(key) != key:
        return False
    return all(p not in ("", ".", "..") and len(p.encode()) <= NAME_MAX for p in parts)


def wanted_objects(listing: Iterable[ObjectInfo], vol: S3CacheVolume) -> tuple[State, list[str]]:
    """The objects the cache should hold (key -> ETag, size) and the keys refused; a total past the connector's
    ``max_bytes`` raises ``S3CacheError``."""
    wanted: State = {}
    refused: list[str] = []
    total = 0
    for info in listing:
        if not info.key or info.key.endswith("/"):
            continue  # "directory" marker objects
        if not safe_key(info.key):
            refused.append(info.key)
            continue
        total += info.size
        if vol.max_bytes is not None and total > vol.max_bytes:
            raise S3CacheError(
                f"s3-mount {vol.url} holds more than its connector's limit of {vol.max_bytes} bytes; "
                "it cannot be mounted (raise --max-bytes with `dsjobs s3-connector add`)"
            )
        wanted[info.key] = (info.etag or f"modified:{info.modified.timestamp() if info.modified else ''}", info.size)
    dirs = {"/".join(k.split("/")[:i]) for k in wanted for i in range(1, k.count("/") + 1)}
    for key in sorted(dirs & wanted.keys()):
        refused.append(key)  # an object that is also the "directory" of others: it cannot be both
        del wanted[key]
    return wanted, refused


def diff(state: State, wanted: State) -> tuple[list[str], list[str]]:
    """Keys to fetch (new or changed by ETag or size) and keys to delete (gone from the bucket)."""
    fetch = [k for k, v in wanted.items() if state.get(k) != v]
    delete = [k for k in state if k not in wanted]
    return fetch, delete


def read_state(runtime: ContainerRuntime, container_id: str, path: str) -> State:
    """The state a container sees at ``path`` (empty when there is none, or it does not read)."""
    try:
        reader = runtime.export(container_id, path)
    except PathNotFound:
        return {}
    with reader, reader.open_tar() as archive:
        for member in archive:
            fh = archive.extractfile(member) if member.isfile() else None
            if fh is None:
                continue
            try:
                doc: Any = json.loads(fh.read(_STATE_LIMIT))
                return {str(k): (str(v[0]), int(v[1])) for k, v in doc["objects"].items() if safe_key(str(k))}
            except (ValueError, KeyError, TypeError, IndexError):
                return {}
    return {}


def _state_entries(state: State) -> list[TarEntry]:
    data = json.dumps({"objects": {k: list(v) for k, v in sorted(state.items())}}).encode()
    return [
        TarDir(f"{HELPER_MOUNT}/{MARKER_DIR}", mode=0o755),
        TarFile(f"{HELPER_MOUNT}/{STATE_FILE}", size=len(data), opener=lambda: io.BytesIO(data), mode=0o444),
    ]


class _Counted(io.RawIOBase):
    def __init__(self, stream: BinaryIO, update: CacheUpdate) -> None:
        super().__init__()
        self._stream, self._update = stream, update

    def readable(self) -> bool:
        return True

    def read(self, n: int | None = -1) -> bytes:
        data: bytes = self._stream.read(-1 if n is None else n)
        self._update.fetched_bytes += len(data)
        return data

    def close(self) -> None:
        self._stream.close()
        super().close()


def _file_entries(store: ObjectStore, keys: list[str], wanted: State, update: CacheUpdate) -> Iterator[TarEntry]:
    done: set[str] = set()
    yield TarDir(HELPER_MOUNT, mode=0o755)
    for key in keys:
        parts = key.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in done:
                done.add(d)
                yield TarDir(f"{HELPER_MOUNT}/{d}", mode=0o755)
        update.fetched += 1
        yield TarFile(f"{HELPER_MOUNT}/{key}", size=wanted[key][1], opener=_opener(store, key, update), mode=0o444)


def _opener(store: ObjectStore, key: str, update: CacheUpdate) -> Callable[[], BinaryIO]:
    def open_counted() -> BinaryIO:
        return cast(BinaryIO, _Counted(store.open_read(key), update))

    return open_counted


@dataclass
class CacheUpdater:
    """Brings s3-mount caches up to date on ``runtime``; helpers come from ``image``."""

    runtime: ContainerRuntime
    image: str
    say: Callable[[str], None]
    timeout: float = UPDATE_TIMEOUT
    poll_interval: float = POLL_INTERVAL
    #: The job (ID) whose launch updates, and whether another such job is gone (``fill_lock.take_lock``).
    job_id: str = ""
    holder_gone: Callable[[str], bool] | None = None

    def update(self, vol: S3CacheVolume, store: ObjectStore, current: Callable[[], State]) -> CacheUpdate:
        """List ``store`` (the mount's bucket/prefix), compare with ``current()`` (the state a job container
        sees) and apply the difference under the lock. Store failures raise ``StoreError``."""
        wanted, refused = wanted_objects(store.list(""), vol)
        if refused:
            shown = ", ".join(repr(k[:80]) for k in refused[:3]) + (" ..." if len(refused) > 3 else "")
            self.say(
                f"warning: s3-mount {vol.mount_id}: {len(refused)} object(s) left out, their keys are not plain "
                f"relative paths (or name both a file and a directory): {shown}"
            )
        deadline = time.monotonic() + self.timeout
        waited = False
        while True:
            fetch, delete = diff(current(), wanted)
            if not fetch and not delete:
                return CacheUpdate(vol.mount_id, unchanged=len(wanted), refused=refused)
            lock = take_lock(self.runtime, self._lock_spec(vol), vol.name, self.timeout, self.say, self.holder_gone)
            if lock is not None:
                return self._apply(vol, store, lock, wanted, refused)
            if not waited:
                self.say(f"s3-mount {vol.mount_id}: another job is updating its cache; waiting for it")
                waited = True
            if time.monotonic() > deadline:
                raise S3CacheError(f"s3-mount {vol.mount_id}: its cache was still being updated after {self.timeout} s")
            time.sleep(self.poll_interval)

    def _lock_spec(self, vol: S3CacheVolume) -> Any:
        labels = {LABEL_PROJECT: vol.project, LABEL_MOUNT: vol.mount_id, LABEL_FILL_OF: vol.name}
        if self.job_id:
            labels[LABEL_FILL_BY] = self.job_id
        return replace(
            helper_spec(self.image, ["/bin/sh", "-c", _DELETE_SCRIPT], labels, SYNC_HELPER),
            name=lock_name(vol.name),
            volumes={vol.name: {"bind": f"/{HELPER_MOUNT}", "mode": "rw"}},
        )

    def _apply(
        self, vol: S3CacheVolume, store: ObjectStore, lock: str, wanted: State, refused: list[str]
    ) -> CacheUpdate:
        update = CacheUpdate(vol.mount_id, refused=refused)
        try:
            state = read_state(self.runtime, lock, f"/{HELPER_MOUNT}/{STATE_FILE}")  # as it is now, under the lock
            fetch, delete = diff(state, wanted)
            if not fetch and not delete:  # another job's update ended between our look and the lock
                update.unchanged = len(wanted)
                return update
            for key in fetch:
                state.pop(key, None)  # cut short from here on: the next update fetches these again
            self.runtime.put_archive(lock, "/", tar_stream(_state_entries(state)))
            if delete:
                self._delete(lock, delete)
                update.deleted = len(delete)
                for key in delete:
                    state.pop(key, None)
            try:
                self.runtime.put_archive(lock, "/", tar_stream(_file_entries(store, fetch, wanted, update)))
            except RuntimeFailure as exc:
                raise S3CacheError(f"s3-mount {vol.mount_id}: updating its cache failed: {exc}") from None
            state.update({k: wanted[k] for k in fetch})
            self.runtime.put_archive(lock, "/", tar_stream(_state_entries(state)))
        finally:
            self.runtime.remove(lock, force=True)
        update.unchanged = len(wanted) - update.fetched
        return update

    def _delete(self, lock: str, keys: list[str]) -> None:
        data = b"".join(k.encode() + b"\0" for k in keys)
        entries = [TarFile(f"{HELPER_MOUNT}/{DELETE_LIST}", size=len(data), opener=lambda: io.BytesIO(data))]
        self.runtime.put_archive(lock, "/", tar_stream(entries))
        self.runtime.start(lock)
        try:
            code = self.runtime.wait(lock, timeout=self.timeout)
        except WaitTimeout:
            code = -1
        if code != 0:
            lines = [line for _, line in self.runtime.stream_logs(lock, follow=False)][-3:]
            raise S3CacheError(f"deleting {len(keys)} file(s) from the s3-mount cache failed: {' / '.join(lines)}")
