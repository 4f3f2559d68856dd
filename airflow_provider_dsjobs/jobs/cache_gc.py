"""Engine caches expire: ``dsjobs gc`` (and the maintenance DAG) removes cache volumes of the project that no job
used for ``max_age``, then the least recently used ones while the project's caches hold more than ``budget``.

What counts as a cache, and its kind: ``runtime/volumes.py`` (``dsjobs.cache``, or an older volume's labels and
name). When it was last used: the record a job's launch wrote (``jobs/cache_use.py``), else the volume's creation
time. Rules, each kept whatever the settings say:

* only volumes of the engine ``gc`` talks to, labelled ``dsjobs.managed=1`` and ``dsjobs.project=<project>``
  (volumes of other projects, of no project, or made by hand are never touched);
* never a volume a container mounts, running or not (the engine refuses it anyway): it is reported as kept;
* just before removing a volume its record is read again: a job launched meanwhile keeps it;
* a dry run removes nothing and reports what would go.

Sizes come from the engine's disk usage report (``docker system df``); a volume the engine does not measure
counts as 0 bytes towards the budget.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from airflow_provider_dsjobs.documents.record import EngineRef, utcnow
from airflow_provider_dsjobs.jobs.cache_use import forget_use, last_use, last_uses
from airflow_provider_dsjobs.jobs.errors import JobError, one_line
from airflow_provider_dsjobs.jobs.gc import GcReport
from airflow_provider_dsjobs.runtime.base import ContainerRuntime
from airflow_provider_dsjobs.runtime.containers import MANAGED_LABEL
from airflow_provider_dsjobs.runtime.errors import RuntimeFailure, VolumeInUse
from airflow_provider_dsjobs.runtime.labels import LABEL_PROJECT
from airflow_provider_dsjobs.runtime.volumes import VolumeUsage, cache_kind
from airflow_provider_dsjobs.settings import Settings
from airflow_provider_dsjobs.storage.base import ObjectStore, StoreError
from airflow_provider_dsjobs.storage.cas import check_project


@dataclass(frozen=True)
class CachePolicy:
    """``max_age``: unused for longer goes (``None``: never by age); ``budget``: most bytes the caches keep."""

    max_age: timedelta | None
    budget: int | None

    @classmethod
    def of(cls, settings: Settings) -> CachePolicy:
        days = settings.cache_max_age_days
        return cls(None if days is None else timedelta(days=days), settings.cache_budget)


@dataclass(frozen=True)
class EngineCache:
    """One cache volume on the engine."""

    name: str
    kind: str
    project: str
    size: int | None
    created_at: datetime | None
    #: When a job last used it (its launch record), else its creation time; ``None`` when neither is known.
    last_used: datetime | None
    #: Containers (running or not) that mount it.
    used_by: tuple[str, ...] = ()

    @property
    def in_use(self) -> bool:
        return bool(self.used_by)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "project": self.project,
            "size_bytes": self.size,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "last_used": self.last_used.isoformat() if self.last_used else None,
            "in_use": self.in_use,
            "used_by": list(self.used_by),
        }


@dataclass
class CacheGcReport:
    removed: list[EngineCache] = field(default_factory=list)
    #: Volume → why it stays although the policy would remove it (in use, used meanwhile, the engine refused).
    kept: dict[str, str] = field(default_factory=dict)
    bytes_freed: int = 0
    dry_run: bool = False


def _project_of(labels: Mapping[str, str]) -> str | None:
    project = labels.get(LABEL_PROJECT)
    try:
        return check_project(project) if project else None
    except StoreError:
        return None


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    return max(a, b) if a is not None and b is not None else a or b


def list_engine_caches(
    runtime: ContainerRuntime, store: ObjectStore, engine_id: str, project: str | None = None
) -> list[EngineCache]:
    """The cache volumes dsjobs made on ``runtime``'s engine (of ``project`` only, when given), least recently
    used first, with the last use each project's records in ``store`` say."""
    wanted: dict[str, str | None] = {MANAGED_LABEL: "1", LABEL_PROJECT: project} if project else {MANAGED_LABEL: "1"}
    volumes = [(v, cache_kind(v.name, v.labels)) for v in runtime.volume_usage(wanted)]
    uses: dict[str, dict[str, datetime]] = {}
    caches = []
    for volume, kind in volumes:
        if kind is None:
            continue
        owner = _project_of(volume.labels)
        if owner is not None and engine_id and owner not in uses:
            uses[owner] = last_uses(store, owner, engine_id)
        used = uses.get(owner or "", {}).get(volume.name)
        caches.append(_cache(volume, kind, owner, used))
    return sorted(caches, key=lambda c: (c.last_used is None, c.last_used or datetime.min, c.name))


def _cache(volume: VolumeUsage, kind: str, project: str | None, used: datetime | None) -> EngineCache:
    return EngineCache(
        name=volume.name,
        kind=kind,
        project=project or volume.labels.get(LABEL_PROJECT, ""),
        size=volume.size,
        created_at=volume.created_at,
        last_used=_later(volume.created_at, used),
        used_by=volume.used_by,
    )


def _why_remove(cache: EngineCache, policy: CachePolicy, now: datetime, total: int) -> str | None:
    """Why the policy removes ``cache`` (``None``: it stays), given the caches' ``total`` bytes so far."""
    if policy.max_age is not None and cache.last_used is not None and cache.last_used < now - policy.max_age:
        return "unused"
    if policy.budget is not None and total > policy.budget:
        return "over budget"
    return None


def collect_engine_caches(
    runtime: ContainerRuntime,
    store: ObjectStore,
    project: str,
    engine_id: str,
    policy: CachePolicy,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
) -> CacheGcReport:
    """Remove (with ``dry_run``: only report) the project's cache volumes the policy says go, least recently used
    first. ``RuntimeFailure``/``StoreError`` when the engine or the store cannot be read at all."""
    now = now or utcnow()
    report = CacheGcReport(dry_run=dry_run)
    caches = list_engine_caches(runtime, store, engine_id, check_project(project))
    total = sum(c.size or 0 for c in caches)
    for cache in caches:
        if _why_remove(cache, policy, now, total) is None:
            continue
        if cache.in_use:
            report.kept[cache.name] = f"in use by {', '.join(cache.used_by)}"
            continue
        if not dry_run and not _remove(runtime, store, project, engine_id, cache, report):
            continue
        report.removed.append(cache)
        report.bytes_freed += cache.size or 0
        total -= cache.size or 0
    return report


def _remove(
    runtime: ContainerRuntime,
    store: ObjectStore,
    project: str,
    engine_id: str,
    cache: EngineCache,
    report: CacheGcReport,
) -> bool:
    """Remove one volume unless a job used it since it was listed; False (and why, in ``report.kept``) if it stays."""
    if engine_id:
        used = last_use(store, project, engine_id, cache.name)
        if used is not None and (cache.last_used is None or used > cache.last_used):
            report.kept[cache.name] = f"used by a job since {used.isoformat(timespec='seconds')}"
            return False
    try:
        runtime.remove_volume(cache.name)
    except VolumeInUse:
        report.kept[cache.name] = "in use by a container"
        return False
    except RuntimeFailure as exc:
        report.kept[cache.name] = str(exc)
        return False
    if engine_id:
        forget_use(store, project, engine_id, cache.name)
    return True


def engine_caches_into(
    report: GcReport,
    runtime: Callable[[], ContainerRuntime],
    engine: Callable[[], EngineRef | None],
    store: ObjectStore,
    settings: Settings,
    *,
    dry_run: bool = False,
) -> None:
    """``gc``'s engine cache step: ``collect_engine_caches`` with the settings' policy on the engine ``runtime``
    reaches, its outcome added to ``report``. An engine or store that cannot be read is ``report.caches_skipped``
    (the rest of ``gc`` stands)."""
    policy = CachePolicy.of(settings)
    if policy.max_age is None and policy.budget is None:
        report.caches_skipped = "no cache max age nor budget is set"
        return
    try:
        ref = engine()
        if ref is None:  # no records can name it: every cache would look as old as its creation
            report.caches_skipped = "the Docker engine has no ID, so when its caches were last used is not known"
            return
        caches = collect_engine_caches(runtime(), store, settings.project, ref.id, policy, dry_run=dry_run)
    except (JobError, RuntimeFailure, StoreError) as exc:
        report.caches_skipped = one_line(exc)
        return
    report.caches_removed = [c.name for c in caches.removed]
    report.cache_bytes_freed = caches.bytes_freed
    report.caches_kept = dict(caches.kept)
