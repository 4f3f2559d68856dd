"""The small documents jobs leave in the store besides records and manifests: leases and markers.

- ``StagingLease`` (``projects/<p>/staging/*.json``): the blob IDs a submitter is staging, kept by ``gc`` until the
  record that references them is saved (``storage/cas.py``).
- ``LaunchHeartbeat`` (``jobs/<id>/lease.json``): the launcher's heartbeat while it starts a job (``jobs/lease.py``).
- ``GcMarker`` (``maintenance/gc.json``): when the project's last opportunistic ``gc`` started (``jobs/gc.py``).
- ``RecentJobs`` (``index/recent.json``) and ``IndexMarker`` (``index/built.json``): the listing index's newest
  jobs and the mark that it is complete (``jobs/store.py``).
- ``CacheUse`` (``engine-caches/<engine>/<volume>.json``): when a job last used an engine cache volume
  (``jobs/cache_use.py``).

Each follows the documents' convention (``to_doc``/``from_doc``, stored with ``codec.encode``). Any store writer
can change these objects, so ``from_doc`` checks every field's type and raises one-line ``ValueError`` on anything
else: a reader never acts on a half-understood document.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any


def _aware(text: object, what: str) -> datetime:
    if not isinstance(text, str):
        raise ValueError(f"{what} is not a timestamp")
    moment = datetime.fromisoformat(text)  # ValueError on anything else
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class StagingLease:
    created_at: datetime
    ids: tuple[str, ...]

    def to_doc(self) -> dict[str, Any]:
        return {"created_at": self.created_at.isoformat(), "ids": list(self.ids)}

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> StagingLease:
        ids = doc.get("ids")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise ValueError("ids is not a list of blob IDs")
        return cls(_aware(doc.get("created_at"), "created_at"), tuple(ids))


@dataclass(frozen=True)
class LaunchHeartbeat:
    host: str
    pid: int
    #: Epoch seconds of the launcher's last beat.
    heartbeat_at: float

    def to_doc(self) -> dict[str, Any]:
        return {"host": self.host, "pid": self.pid, "heartbeat_at": self.heartbeat_at}

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> LaunchHeartbeat:
        beat = doc.get("heartbeat_at")
        if isinstance(beat, bool) or not isinstance(beat, (int, float)):
            raise ValueError("heartbeat_at is not a number")
        pid = doc.get("pid")
        return cls(str(doc.get("host") or ""), pid if isinstance(pid, int) else 0, float(beat))


@dataclass(frozen=True)
class GcMarker:
    at: datetime

    def to_doc(self) -> dict[str, Any]:
        return {"at": self.at.isoformat()}

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> GcMarker:
        return cls(_aware(doc.get("at"), "at"))


@dataclass(frozen=True)
class RecentJobs:
    #: Index names of the newest jobs, newest first (``jobs/store.index_name``).
    names: tuple[str, ...]

    def to_doc(self) -> dict[str, Any]:
        return {"names": list(self.names)}

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> RecentJobs:
        names = doc.get("names")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ValueError("names is not a list of index names")
        return cls(tuple(names))


@dataclass(frozen=True)
class IndexMarker:
    built_at: datetime
    #: Which index layout the build wrote (``jobs/store.INDEX_VERSION``); markers from before the field: 1.
    version: int = 1

    def to_doc(self) -> dict[str, Any]:
        return {"built_at": self.built_at.isoformat(), "version": self.version}

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> IndexMarker:
        version = doc.get("version", 1)
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise ValueError("version is not a whole number of 1 or more")
        return cls(_aware(doc.get("built_at"), "built_at"), version)


@dataclass(frozen=True)
class CacheUse:
    volume: str
    job_id: str
    used_at: datetime

    def to_doc(self) -> dict[str, Any]:
        return {"volume": self.volume, "job_id": self.job_id, "used_at": self.used_at.isoformat()}

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> CacheUse:
        volume, job_id = doc.get("volume"), doc.get("job_id")
        if not isinstance(volume, str) or not isinstance(job_id, str):
            raise ValueError("volume or job_id is not a string")
        return cls(volume, job_id, _aware(doc.get("used_at"), "used_at"))
