"""Job records in the object store, and where each job's data lives: ``JobStore`` owns every per-job key.

Key layout (relative to the store root)::

    projects/<project>/jobs/<job_id>/record.json      the JobRecord (JSON), replaced atomically on save
    projects/<project>/jobs/<job_id>/plan.json        what finalize/cancel/download need of the plan (plan_doc.py)
    projects/<project>/jobs/<job_id>/launch-lease.json the launcher's heartbeat until the job starts (lease.py)
    projects/<project>/jobs/<job_id>/inputs.json      the inputs manifest (written by the orchestrator)
    projects/<project>/jobs/<job_id>/outputs/...      published outputs (+ outputs/manifest.json, written last)
    projects/<project>/jobs/<job_id>/logs/...         stored logs
    projects/<project>/datasets/<dataset_id>/...      output datasets (project-wide, not job data)
    projects/<project>/blobs/..., trees/..., staging/... the input cache (see ``storage/cas.py``)

``JobRecord.inputs`` — written by the orchestrator, read by ``gc`` to know which cached inputs are live —
holds one ``record.InputRef`` per input of the config (path, var, kind, sha256, size, mode; a Python local module
also its role and container path). ``fork`` builds the new job from these hashes, not from the submitter's files.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

from airflow_provider_dsjobs.jobs.errors import JobError
from airflow_provider_dsjobs.jobs.record import JobRecord, utcnow
from airflow_provider_dsjobs.storage.base import ObjectNotFound, ObjectStore, StoreError
from airflow_provider_dsjobs.storage.cas import check_project, project_prefix

RECORD_NAME = "record.json"
PLAN_NAME = "plan.json"
LEASE_NAME = "launch-lease.json"
_LOAD_WORKERS = 8
_JOB_ID_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_ID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


class JobNotFound(JobError, StoreError):
    """No job with that id in the project (catchable as either a job or a store error)."""


def check_job_id(job_id: str) -> str:
    if not _JOB_ID_RE.fullmatch(job_id or ""):
        raise JobNotFound(f"invalid job id {job_id!r}: job ids are lowercase letters, digits and '-'")
    return job_id


_id_lock = threading.Lock()
_last_ms = 0


def new_job_id() -> str:
    """A new job id like ``j20261121-074218123-x7k2m9q1`` (28 chars): UTC time to the millisecond, then 8
    random base-36 characters. Ids sort by creation time (strictly increasing within a process) and are
    lowercase and DNS-label safe."""
    global _last_ms
    with _id_lock:
        now_ms = int(utcnow().timestamp() * 1000)
        now_ms = max(now_ms, _last_ms + 1)
        _last_ms = now_ms
    moment = datetime.fromtimestamp(now_ms / 1000, timezone.utc)
    suffix = "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))
    return f"j{moment:%Y%m%d}-{moment:%H%M%S}{now_ms % 1000:03d}-{suffix}"


class JobStore:
    """Saves, loads and lists the job records of one project."""

    def __init__(self, store: ObjectStore, project: str) -> None:
        self.store = store
        self.project = check_project(project)

    # -- keys ----------------------------------------------------------------------------------------------------

    def jobs_prefix(self) -> str:
        return f"{project_prefix(self.project)}jobs/"

    def job_prefix(self, job_id: str) -> str:
        return f"{self.jobs_prefix()}{check_job_id(job_id)}/"

    def record_key(self, job_id: str) -> str:
        return f"{self.job_prefix(job_id)}{RECORD_NAME}"

    def plan_key(self, job_id: str) -> str:
        return f"{self.job_prefix(job_id)}{PLAN_NAME}"

    def lease_key(self, job_id: str) -> str:
        return f"{self.job_prefix(job_id)}{LEASE_NAME}"

    def outputs_prefix(self, job_id: str) -> str:
        return f"{self.job_prefix(job_id)}outputs/"

    def logs_prefix(self, job_id: str) -> str:
        return f"{self.job_prefix(job_id)}logs/"

    def log_key(self, job_id: str, name: str) -> str:
        """One of the job's log files (``jobs/logs.py``, ``jobs/stats.py``): ``logs/<name>``."""
        return f"{self.logs_prefix(job_id)}{name}"

    def progress_key(self, job_id: str) -> str:
        """The latest progress of a running job, written by whoever follows it (``jobs/progress.py``)."""
        return f"{self.job_prefix(job_id)}progress.json"

    def gc_marker_key(self) -> str:
        """When the project's last opportunistic ``gc`` started (``jobs/gc.py``)."""
        return f"{project_prefix(self.project)}maintenance/gc.json"

    def inputs_manifest_key(self, job_id: str) -> str:
        return f"{self.job_prefix(job_id)}inputs.json"

    def datasets_prefix(self, dataset_id: str) -> str:
        if not _JOB_ID_RE.fullmatch(dataset_id or ""):
            raise StoreError(f"invalid dataset id {dataset_id!r}: use lowercase letters, digits and '-'")
        return f"{project_prefix(self.project)}datasets/{dataset_id}/"

    @staticmethod
    def new_job_id() -> str:
        return new_job_id()

    # -- records -------------------------------------------------------------------------------------------------

    def save(self, record: JobRecord) -> None:
        if record.project != self.project:
            raise StoreError(f"job {record.id} belongs to project {record.project!r}, not {self.project!r}")
        data = json.dumps(record.to_dict(), indent=2, sort_keys=True, default=str).encode("utf-8")
        self.store.put_bytes(self.record_key(record.id), data)

    def load(self, job_id: str) -> JobRecord:
        key = self.record_key(job_id)
        try:
            data = self.store.get_bytes(key)
        except ObjectNotFound:
            raise JobNotFound(f"job {job_id} not found in project {self.project} ({self.store.url})") from None
        try:
            return JobRecord.from_dict(json.loads(data))
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"job record {self.store.uri(key)} is corrupt: {exc}") from None

    def exists(self, job_id: str) -> bool:
        return self.store.exists(self.record_key(job_id))

    def list_ids(self) -> list[str]:
        """Ids of every job in the project, newest first (ids sort by creation time)."""
        prefix = self.jobs_prefix()
        list_children = getattr(self.store, "list_children", None)
        if list_children is not None:
            # One level only: a job's outputs and logs may be many objects.
            ids = [name[:-1] for name in list_children(prefix) if name.endswith("/")]
        else:
            ids = []
            for info in self.store.list(prefix):
                job_id, _, rest = info.key[len(prefix) :].partition("/")
                if rest == RECORD_NAME:
                    ids.append(job_id)
        return sorted((i for i in ids if _JOB_ID_RE.fullmatch(i)), reverse=True)

    def _try_load(self, job_id: str) -> JobRecord | None:
        try:
            return self.load(job_id)
        except StoreError:
            return None  # no record (yet), deleted meanwhile, or corrupt: a listing shows what it can

    def list(self) -> list[JobRecord]:
        """Every job record of the project, newest first. Records that cannot be read are skipped."""
        with ThreadPoolExecutor(max_workers=_LOAD_WORKERS) as pool:
            loaded = list(pool.map(self._try_load, self.list_ids()))
        records = [r for r in loaded if r is not None]
        records.sort(key=lambda r: (r.created_at, r.id), reverse=True)
        return records

    def set_data_ttl(self, job_id: str, days: float | None) -> JobRecord:
        """Keep the job's data ``days`` more days from now (``None``: forever). Returns the saved record."""
        if days is not None and days < 0:
            raise StoreError(f"data TTL must be zero or more days, got {days}")
        record = self.load(job_id)
        record.data_expires_at = None if days is None else utcnow() + timedelta(days=days)
        self.save(record)
        return record
