"""When a job last used each engine cache volume: one small object per volume in the store, which every worker
sharing the engine (and the store) sees.

Key layout (relative to the store root)::

    projects/<project>/engine-caches/<engine>/<volume>.json     {"volume", "job_id", "used_at"}

``<engine>`` is the engine's own ID (``docker info``; made key-safe), so two engines' volumes of the same name
never share a record. A job's launch writes the record of every named volume its container mounts — generically:
a new kind of cache volume needs no code here — *before* the volumes are ensured, so a ``gc`` that re-reads the
record just before removing a volume sees a launch that is about to use it.

The time of a use is the store's own: the object's modification time (S3 ``LastModified``, the local file's
mtime), so workers whose clocks differ still write comparable times, and the last writer's time is the latest
(last writer wins, every writer writes "now"). No record: the volume's creation time counts
(``jobs/cache_gc.py``).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Iterable
from datetime import datetime

from airflow_provider_dsjobs.documents.codec import decode, encode
from airflow_provider_dsjobs.documents.markers import CacheUse
from airflow_provider_dsjobs.documents.record import EngineRef, utcnow
from airflow_provider_dsjobs.storage.base import ObjectStore, StoreError
from airflow_provider_dsjobs.storage.cas import project_prefix

log = logging.getLogger(__name__)

#: What Docker allows as a volume name; anything else (from a store listing or a plan) never becomes a key.
VOLUME_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}")
_ENGINE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,79}")
_SUFFIX = ".json"


def engine_key(engine_id: str) -> str:
    """The engine's ID as one key segment: as is when it is plain (``-`` for Docker's ``:``), else its digest."""
    plain = engine_id.replace(":", "-")
    if _ENGINE_RE.fullmatch(plain):
        return plain
    return "sha256-" + hashlib.sha256(engine_id.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def uses_prefix(project: str, engine_id: str) -> str:
    return f"{project_prefix(project)}engine-caches/{engine_key(engine_id)}/"


def use_key(project: str, engine_id: str, volume: str) -> str:
    if not VOLUME_NAME_RE.fullmatch(volume):
        raise StoreError(f"invalid volume name {volume[:80]!r}: not a Docker volume name")
    return f"{uses_prefix(project, engine_id)}{volume}{_SUFFIX}"


def record_use(store: ObjectStore, project: str, engine_id: str, volumes: Iterable[str], job_id: str) -> None:
    """Write "used now by ``job_id``" for each of ``volumes`` on engine ``engine_id`` (``StoreError`` on failure)."""
    now = utcnow()
    for volume in dict.fromkeys(volumes):
        store.put_bytes(use_key(project, engine_id, volume), encode(CacheUse(volume, job_id, now).to_doc()))


def note_job_use(
    store: ObjectStore,
    project: str,
    engine: EngineRef | None,
    volumes: Iterable[str],
    job_id: str,
    say: Callable[[str], None],
) -> None:
    """``record_use`` at a job's launch; a failure is a warning line, never the job's failure (the volume then
    looks older to ``gc`` than it is). An engine without an ID keeps no records."""
    names = list(volumes)
    if not names or engine is None or not engine.id:
        return
    try:
        record_use(store, project, engine.id, names, job_id)
    except (StoreError, OSError) as exc:
        say(f"warning: cannot record that the job uses volumes {', '.join(names)}: {exc}")


def _used_at(store: ObjectStore, key: str, modified: datetime | None) -> datetime | None:
    if modified is not None:
        return modified
    try:  # a backend that does not say when an object changed: the writer's own time
        return CacheUse.from_doc(decode(store.get_bytes(key))).used_at
    except (StoreError, ValueError):
        return None


def last_uses(store: ObjectStore, project: str, engine_id: str) -> dict[str, datetime]:
    """Volume name → when a job last used it, for every record of ``project`` on engine ``engine_id``. Keys that
    are not a record of a valid volume name are ignored."""
    prefix = uses_prefix(project, engine_id)
    found: dict[str, datetime] = {}
    for info in store.list(prefix):
        name = info.key[len(prefix) :]
        volume = name[: -len(_SUFFIX)] if name.endswith(_SUFFIX) else ""
        if not VOLUME_NAME_RE.fullmatch(volume):
            continue
        used = _used_at(store, info.key, info.modified)
        if used is not None:
            found[volume] = used
    return found


def last_use(store: ObjectStore, project: str, engine_id: str, volume: str) -> datetime | None:
    """When a job last used ``volume`` (one listing of its own key: read just before ``gc`` removes it)."""
    key = use_key(project, engine_id, volume)
    for info in store.list(key):
        if info.key == key:
            return _used_at(store, key, info.modified)
    return None


def forget_use(store: ObjectStore, project: str, engine_id: str, volume: str) -> None:
    """Delete the record of a volume ``gc`` removed."""
    store.delete(use_key(project, engine_id, volume))
