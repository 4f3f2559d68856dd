"""Garbage collection: expired job data, then cached inputs nothing live references.

1. Every finished job whose ``data_expires_at`` has passed and whose data is not cleared yet loses its
   outputs, logs and inputs manifest; its record stays (with ``data_cleared=True``) so history survives.
   Jobs still running are left alone whatever their TTL.
2. Blobs and trees of the input cache are deleted when no job with uncleared data references them (through
   ``JobRecord.inputs``, see ``jobs/store.py``), no staging lease younger than ``lease_ttl`` names them, and
   they are older than the grace period — so inputs being staged right now, before their job record exists,
   are safe, whether they were just uploaded (grace) or already cached and reused (lease).
   If a live job's tree cannot be read, no blob is deleted (we cannot tell which ones it needs).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

from airflow_provider_dsjobs.jobs.record import JobRecord, utcnow
from airflow_provider_dsjobs.jobs.service import GcReport
from airflow_provider_dsjobs.jobs.store import JobStore
from airflow_provider_dsjobs.storage.base import ObjectInfo, StoreError
from airflow_provider_dsjobs.storage.cas import blobs_prefix, leases_prefix, load_tree, trees_prefix

log = logging.getLogger(__name__)

#: Cached inputs younger than this are never collected.
DEFAULT_GRACE = timedelta(hours=1)
#: A staging lease protects what it names for this long (a submitter releases it once its record is saved;
#: this bounds how long a crashed submitter's lease keeps blobs alive).
DEFAULT_LEASE_TTL = timedelta(days=1)


def _old(info: ObjectInfo, cutoff: datetime) -> bool:
    return info.modified is not None and info.modified < cutoff


def _clear_job_data(job_store: JobStore, record: JobRecord) -> int:
    """Delete a job's outputs, logs and inputs manifest; returns the bytes freed."""
    store = job_store.store
    freed = 0
    for prefix in (job_store.outputs_prefix(record.id), job_store.logs_prefix(record.id)):
        for info in list(store.list(prefix)):
            store.delete(info.key)
            freed += info.size
    manifest = job_store.inputs_manifest_key(record.id)
    size = store.size(manifest)
    if size is not None:
        store.delete(manifest)
        freed += size
    return freed


def _live_references(job_store: JobStore, records: list[JobRecord], lease_cutoff: datetime) -> tuple[set[str], bool]:
    """Ids (blob sha256s and tree ids) still needed, and whether that set is complete."""
    store, project = job_store.store, job_store.project
    live: set[str] = set()
    complete = True
    for record in records:
        if record.data_cleared:
            continue
        for ref in record.inputs:
            sha = ref.get("sha256")
            if not isinstance(sha, str):
                continue
            live.add(sha)
            if ref.get("kind") == "dir":
                try:
                    live.update(e.sha256 for e in load_tree(store, project, sha) if e.sha256)
                except StoreError as exc:
                    log.warning("gc: keeping all blobs: job %s: %s", record.id, exc)
                    complete = False
    for info in list(store.list(leases_prefix(project))):
        if _old(info, lease_cutoff):
            store.delete(info.key)
            continue
        try:
            live.update(json.loads(store.get_bytes(info.key)).get("ids", []))
        except (StoreError, ValueError, AttributeError) as exc:
            log.warning("gc: keeping all blobs: unreadable staging lease %s: %s", store.uri(info.key), exc)
            complete = False
    return live, complete


def collect_garbage(
    job_store: JobStore,
    now: datetime | None = None,
    *,
    grace: timedelta = DEFAULT_GRACE,
    lease_ttl: timedelta = DEFAULT_LEASE_TTL,
) -> GcReport:
    """Run both phases; returns the cleared job ids and the objects/bytes deleted. ``blobs_deleted`` counts
    cached input objects (file blobs and tree manifests); ``bytes_freed`` includes cleared job data."""
    now = now or utcnow()
    cutoff = now - grace
    report = GcReport()
    store, project = job_store.store, job_store.project

    records = job_store.list()
    for record in records:
        expired = record.data_expires_at is not None and record.data_expires_at < now
        if not expired or record.data_cleared or not record.status.terminal:
            continue
        report.bytes_freed += _clear_job_data(job_store, record)
        record.data_cleared = True
        job_store.save(record)
        report.jobs_cleared.append(record.id)
        log.info("gc: cleared data of job %s", record.id)

    live, complete = _live_references(job_store, records, now - lease_ttl)
    if not complete:
        return report
    for info in list(store.list(trees_prefix(project))):
        tid = info.key.rsplit("/", 1)[-1].removesuffix(".json")
        if tid not in live and _old(info, cutoff):
            store.delete(info.key)
            report.blobs_deleted += 1
            report.bytes_freed += info.size
    for info in store.list(blobs_prefix(project)):
        sha = info.key.rsplit("/", 1)[-1]
        if sha not in live and _old(info, cutoff):
            store.delete(info.key)
            report.blobs_deleted += 1
            report.bytes_freed += info.size
    return report
