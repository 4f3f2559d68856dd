"""Garbage collection: expired job data, then cached inputs nothing live references.

1. Every finished job whose ``data_expires_at`` has passed and whose data is not cleared yet loses its
   outputs, logs and inputs manifest; its record stays (with ``data_cleared=True``) so history survives.
   Jobs still running are left alone whatever their TTL.
2. Blobs and trees of the input cache are deleted when no job with uncleared data references them (through
   ``JobRecord.inputs``, see ``jobs/store.py``), no staging lease younger than ``lease_ttl`` names them, and
   they are older than the grace period — so inputs being staged right now, before their job record exists,
   are safe, whether they were just uploaded (grace) or already cached and reused (lease).
   If a live job's tree cannot be read, no blob is deleted (we cannot tell which ones it needs).

``clear_job`` is ``dsjobs clear --id``: one job's data at once, whatever its TTL (the record stays, marked
cleared), and the cached inputs only it used.

3. Engine cache volumes (Python environments, datasets, S3 mounts, ML Lab ``/data``, project disks) unused for
   long or over the budget go too: ``jobs/cache_gc.py`` (``JobService.gc`` runs it; ``engine_caches_into``).

``dry_run`` reports what would go and deletes nothing. ``budget`` (seconds) bounds a run: it stops between
deletions once spent, leaving the rest to the next run (every step is idempotent), and says so
(``GcReport.complete``). ``maybe_collect_garbage`` is the opportunistic run ``JobService.submit`` makes: at most
once per interval per project (a marker object in the store says when the last one started), time-bounded.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from airflow_provider_dsjobs.documents.codec import decode, encode
from airflow_provider_dsjobs.documents.markers import GcMarker, StagingLease
from airflow_provider_dsjobs.documents.record import JobRecord, utcnow
from airflow_provider_dsjobs.jobs.store import JobStore
from airflow_provider_dsjobs.storage.base import ObjectInfo, ObjectNotFound, StoreError
from airflow_provider_dsjobs.storage.cas import blob_id, blobs_prefix, leases_prefix, load_tree, trees_prefix

log = logging.getLogger(__name__)

#: Cached inputs younger than this are never collected.
DEFAULT_GRACE = timedelta(hours=1)
#: ``clear`` deletes cached inputs nothing references once they are this old (not an hour: "now" is asked for;
#: a few minutes still cover a submit that is uploading one before its record exists).
CLEAR_GRACE = timedelta(minutes=5)
#: A staging lease protects what it names for this long (a submitter releases it once its record is saved;
#: this bounds how long a crashed submitter's lease keeps blobs alive).
DEFAULT_LEASE_TTL = timedelta(days=1)


@dataclass
class GcReport:
    """What one ``gc`` run did (``JobService.gc`` returns it; re-exported from ``jobs/service.py``)."""

    jobs_cleared: list[str] = field(default_factory=list)
    #: Jobs nobody followed that this run finished (their container had exited): ``JobService.settle_exited``.
    jobs_settled: list[str] = field(default_factory=list)
    blobs_deleted: int = 0
    bytes_freed: int = 0
    #: Nothing was deleted: the counts say what would have been.
    dry_run: bool = False
    #: False when the time budget ran out first (the next run goes on).
    complete: bool = True
    #: Engine cache volumes removed (or, in a dry run, that would be; ``jobs/cache_gc.py``) and the bytes they held.
    caches_removed: list[str] = field(default_factory=list)
    cache_bytes_freed: int = 0
    #: Cache volumes the policy would remove that stay, and why (in use by a container, used meanwhile).
    caches_kept: dict[str, str] = field(default_factory=dict)
    #: Why engine caches were not looked at this run ("": they were), e.g. the engine did not answer.
    caches_skipped: str = ""
    #: Helpers of lazy S3 mounts whose job was over or unknown, and their empty mount directories, removed (or that
    #: would be; ``jobs/s3_lazy_mounts.py``).
    lazy_mounts_removed: list[str] = field(default_factory=list)


class _Budget:
    def __init__(self, seconds: float | None) -> None:
        self.deadline = None if seconds is None else time.monotonic() + seconds

    def spent(self) -> bool:
        return self.deadline is not None and time.monotonic() > self.deadline


def _old(info: ObjectInfo, cutoff: datetime) -> bool:
    return info.modified is not None and info.modified < cutoff


def clear_job_data(job_store: JobStore, record: JobRecord, *, dry_run: bool = False) -> int:
    """Delete a job's outputs, logs and inputs manifest (the record stays); returns the bytes freed (or, with
    ``dry_run``, that would be)."""
    store = job_store.store
    freed = 0
    for prefix in (job_store.outputs_prefix(record.id), job_store.logs_prefix(record.id)):
        for info in list(store.list(prefix)):
            if not dry_run:
                store.delete(info.key)
            freed += info.size
    manifest = job_store.inputs_manifest_key(record.id)
    size = store.size(manifest)
    if size is not None:
        if not dry_run:
            store.delete(manifest)
        freed += size
    return freed


def _mark_cleared(job_store: JobStore, record: JobRecord, reason: str, now: datetime) -> None:
    """Mark the stored record cleared (through ``JobStore.update``: a status change meanwhile is kept)."""

    def change(current: JobRecord) -> JobRecord | None:
        if current.data_cleared:
            return None
        current.mark_cleared(reason, now)
        return current

    record.mark_cleared(reason, now)
    job_store.update(record.id, change)


def _input_ids(job_store: JobStore, record: JobRecord, into: set[str]) -> bool:
    """Add the blob and tree ids ``record``'s inputs use to ``into``; False when a tree could not be read."""
    for ref in record.inputs:
        into.add(ref.sha256)
        if ref.kind == "dir":
            try:
                into.update(e.sha256 for e in load_tree(job_store.store, job_store.project, ref.sha256) if e.sha256)
            except StoreError as exc:
                log.warning("gc: keeping all blobs: job %s: %s", record.id, exc)
                return False
    return True


def _live_references(
    job_store: JobStore, records: list[JobRecord], lease_cutoff: datetime, *, dry_run: bool = False
) -> tuple[set[str], bool]:
    """Ids (blob sha256s and tree ids) still needed, and whether that set is complete (stale leases are deleted
    on the way, except in a dry run)."""
    store, project = job_store.store, job_store.project
    live: set[str] = set()
    complete = True
    for record in records:
        if not record.data_cleared:
            complete = _input_ids(job_store, record, live) and complete
    for info in list(store.list(leases_prefix(project))):
        if _old(info, lease_cutoff):
            if not dry_run:
                store.delete(info.key)
            continue
        try:
            live.update(StagingLease.from_doc(decode(store.get_bytes(info.key))).ids)
        except (StoreError, ValueError) as exc:
            log.warning("gc: keeping all blobs: unreadable staging lease %s: %s", store.uri(info.key), exc)
            complete = False
    return live, complete


def collect_garbage(
    job_store: JobStore,
    now: datetime | None = None,
    *,
    grace: timedelta = DEFAULT_GRACE,
    lease_ttl: timedelta = DEFAULT_LEASE_TTL,
    dry_run: bool = False,
    budget: float | None = None,
) -> GcReport:
    """Run both phases; returns the cleared job ids and the objects/bytes deleted. ``blobs_deleted`` counts
    cached input objects (file blobs and tree manifests); ``bytes_freed`` includes cleared job data."""
    now = now or utcnow()
    report = GcReport(dry_run=dry_run)
    clock = _Budget(budget)
    records = job_store.list()
    for record in records:
        if record.data_cleared or not record.expired(now):
            continue
        if clock.spent():
            report.complete = False
            return report
        report.bytes_freed += clear_job_data(job_store, record, dry_run=dry_run)
        report.jobs_cleared.append(record.id)
        if not dry_run:
            _mark_cleared(job_store, record, "expired", now)
            log.info("gc: cleared data of job %s", record.id)
    _delete_unreferenced(job_store, records, now, grace, lease_ttl, report, clock)
    return report


def _delete_unreferenced(
    job_store: JobStore,
    records: list[JobRecord],
    now: datetime,
    grace: timedelta,
    lease_ttl: timedelta,
    report: GcReport,
    clock: _Budget,
    only: set[str] | None = None,
) -> None:
    """Phase 2: delete (or, in a dry run, count) the trees and blobs nothing live names (of ``only``, if given)."""
    store, project = job_store.store, job_store.project
    cleared = set(report.jobs_cleared)  # in a dry run their records still say otherwise
    live, complete = _live_references(
        job_store, [r for r in records if r.id not in cleared], now - lease_ttl, dry_run=report.dry_run
    )
    if not complete:
        return
    cutoff = now - grace
    for prefix in (trees_prefix(project), blobs_prefix(project)):
        for info in list(store.list(prefix)):
            content_id = _content_id(project, prefix, info.key)
            if content_id is None or content_id in live or not _old(info, cutoff):
                continue  # None: not ours (nothing dsjobs wrote there); it is left alone
            if only is not None and content_id not in only:
                continue
            if clock.spent():
                report.complete = False
                return
            if not report.dry_run:
                store.delete(info.key)
            report.blobs_deleted += 1
            report.bytes_freed += info.size


def _content_id(project: str, prefix: str, key: str) -> str | None:
    """The id a cache object is named by: a tree's from ``trees/<id>.json``, a blob's from its key (any algorithm)."""
    if prefix == trees_prefix(project):
        return key.rsplit("/", 1)[-1].removesuffix(".json")
    return blob_id(project, key)


def clear_job(job_store: JobStore, record: JobRecord, *, grace: timedelta = CLEAR_GRACE) -> GcReport:
    """``dsjobs clear --id``: delete a finished job's outputs, logs and inputs manifest now, mark its record
    cleared, then delete the cached inputs only it used (older than ``grace``; a submit in progress may be
    about to reuse a younger one)."""
    now = utcnow()
    report = GcReport()
    own: set[str] = set()
    known = _input_ids(job_store, record, own)
    report.bytes_freed += clear_job_data(job_store, record)
    _mark_cleared(job_store, record, "cleared", now)
    report.jobs_cleared.append(record.id)
    if known:
        _delete_unreferenced(job_store, job_store.list(), now, grace, DEFAULT_LEASE_TTL, report, _Budget(None), own)
    return report


def maybe_collect_garbage(
    job_store: JobStore, interval: timedelta, *, budget: float, now: datetime | None = None
) -> GcReport | None:
    """``collect_garbage`` within ``budget`` seconds unless a run started less than ``interval`` ago (None then).
    The marker is written first, so submitters racing here mostly skip."""
    now = now or utcnow()
    key = job_store.gc_marker_key()
    try:
        last: datetime | None = GcMarker.from_doc(decode(job_store.store.get_bytes(key))).at
    except ObjectNotFound:
        last = None
    except ValueError:
        last = None  # an unreadable marker: run, and write a good one
    if last is not None and now - last < interval:
        return None
    job_store.store.put_bytes(key, encode(GcMarker(now).to_doc()))
    return collect_garbage(job_store, now, budget=budget)
