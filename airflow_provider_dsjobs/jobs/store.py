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

    projects/<project>/index/jobs/<inverted time>-<inverted id>   one empty key per job, newest first (listing)
    projects/<project>/index/labels/<hash of k=v>/<same name>     one per label of a job (``find_by_labels``)
    projects/<project>/index/active/<same name>                    one per job not ended yet (status filters)
    projects/<project>/index/status/<STATUS>/<same name>           one per ended job, under the status it ended in
    projects/<project>/index/recent.json                           the newest 1000 jobs' index names, in order
    projects/<project>/index/built.json                            the index holds every record (else rebuilt)

Records change only through ``update`` (compare-and-swap: read with version, apply, write if unchanged, else
re-read and decide again), which checks ``JobStatus.can_become``; ``create`` writes a new one only if none exists.
The job, label and active keys are written at ``create`` (a job's creation time and labels are fixed). A status
change writes nothing but the record, except the one that ends the job: its ``status/<STATUS>`` key is written
before the record (an ended status never changes again, so the key is stable; a write that then loses its race
leaves a key whose record says otherwise, which filters read and skip) and its active key is deleted after.
Listing newest-first reads ``recent.json`` (one GET; kept by ``create`` with compare-and-swap) and then only the
records of the page; older pages list index keys (``ListObjectsV2`` returns keys in order; the inverted time makes
the newest come first). The index is derived: if ``built.json`` is missing, unreadable or of an older layout
(``IndexMarker.version`` below ``INDEX_VERSION``: a store written before the index or its status keys existed, or
an index deleted) the next listing rebuilds it from the records (``rebuild_index``); a missing ``recent.json`` is
rebuilt from the index keys.

``JobRecord.inputs`` — written by the orchestrator, read by ``gc`` to know which cached inputs are live —
holds one ``record.InputRef`` per input of the config (path, var, kind, sha256, size, mode; a Python local module
also its role and container path). ``fork`` builds the new job from these hashes, not from the submitter's files.
"""

from __future__ import annotations

import builtins
import copy
import hashlib
import heapq
import itertools
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

from airflow_provider_dsjobs.documents.codec import decode, encode
from airflow_provider_dsjobs.documents.markers import IndexMarker, RecentJobs
from airflow_provider_dsjobs.documents.record import JobRecord, JobStatus, utcnow
from airflow_provider_dsjobs.jobs.errors import JobError
from airflow_provider_dsjobs.storage.base import ObjectNotFound, ObjectStore, PreconditionFailed, StoreError
from airflow_provider_dsjobs.storage.cas import check_project, project_prefix

log = logging.getLogger(__name__)

RECORD_NAME = "record.json"
#: How many times ``update`` re-reads and retries after losing a race before it gives up.
MAX_UPDATE_ATTEMPTS = 25
#: How many of the newest jobs ``recent.json`` names (the pages within them need no listing request).
RECENT_MAX = 1000
#: The index layout ``rebuild_index`` writes (``IndexMarker.version``); an index marked older is rebuilt.
#: 2: ended jobs have ``index/status/<STATUS>/`` keys.
INDEX_VERSION = 2
#: Index keys listed per request when paging through the whole index.
_INDEX_PAGE = 1000
_TIME_ID_RE = re.compile(r"^j(\d{8})-(\d{9})-")
#: Index names sort the newest first: each character is replaced by its mirror in this (ASCII-sorted) alphabet.
_KEY_ALPHABET = "-0123456789abcdefghijklmnopqrstuvwxyz"
_MIRROR = str.maketrans(_KEY_ALPHABET, _KEY_ALPHABET[::-1])
_MAX_MS = 10**13 - 1
PLAN_NAME = "plan.json"
LEASE_NAME = "launch-lease.json"
_LOAD_WORKERS = 8
_JOB_ID_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_ID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


class JobNotFound(JobError, StoreError):
    """No job with that id in the project (catchable as either a job or a store error)."""


class InvalidTransition(JobError):
    """A status change the transition table does not allow, from the status the caller read: a bug."""


class UpdateConflict(JobError, StoreError):
    """``update`` kept losing races (``MAX_UPDATE_ATTEMPTS`` re-reads): the store is too busy or misbehaving."""


#: ``update``'s function: the re-read record (a copy it may change) → the record to write, or None: no change.
Change = Callable[[JobRecord], "JobRecord | None"]


def _created_ms(record: JobRecord) -> int:
    """The creation moment that orders listings: the id's own time (strictly increasing per process), else the
    record's ``created_at``."""
    match = _TIME_ID_RE.match(record.id)
    if match:
        with_ms = datetime.strptime(match.group(1) + match.group(2), "%Y%m%d%H%M%S%f").replace(tzinfo=timezone.utc)
        return int(with_ms.timestamp() * 1000)
    return int(record.created_at.timestamp() * 1000)


def index_name(record: JobRecord) -> str:
    """The job's name in the index: newest first in key order, the job id recoverable (``id_of_index_name``)."""
    return f"{_MAX_MS - max(0, min(_created_ms(record), _MAX_MS)):013d}-{record.id.translate(_MIRROR)}"


def id_of_index_name(name: str) -> str | None:
    _, _, mirrored = name.partition("-")
    job_id = mirrored.translate(_MIRROR)
    return job_id if _JOB_ID_RE.match(job_id) else None


def _label_hash(key: str, value: str) -> str:
    return hashlib.sha256(f"{key}\0{value}".encode()).hexdigest()[:32]


def _recent_bytes(names: list[str]) -> bytes:
    return encode(RecentJobs(tuple(names)).to_doc())


def encode_record(record: JobRecord) -> bytes:
    return encode(record.to_doc())


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
        self._index_seen = False

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

    def index_prefix(self) -> str:
        return f"{project_prefix(self.project)}index/"

    def index_jobs_prefix(self) -> str:
        return f"{self.index_prefix()}jobs/"

    def index_active_prefix(self) -> str:
        return f"{self.index_prefix()}active/"

    def index_status_prefix(self, status: JobStatus) -> str:
        """Where the ended jobs of ``status`` are indexed (a status not ended: the active index, all together)."""
        return f"{self.index_prefix()}status/{status.value}/" if status.terminal else self.index_active_prefix()

    def index_label_prefix(self, key: str, value: str) -> str:
        return f"{self.index_prefix()}labels/{_label_hash(key, value)}/"

    def recent_key(self) -> str:
        return f"{self.index_prefix()}recent.json"

    def index_marker_key(self) -> str:
        return f"{self.index_prefix()}built.json"

    def datasets_prefix(self, dataset_id: str) -> str:
        if not _JOB_ID_RE.fullmatch(dataset_id or ""):
            raise StoreError(f"invalid dataset id {dataset_id!r}: use lowercase letters, digits and '-'")
        return f"{project_prefix(self.project)}datasets/{dataset_id}/"

    @staticmethod
    def new_job_id() -> str:
        return new_job_id()

    # -- records ---------------------------------------------------------------------------------------------------

    def _check_project(self, record: JobRecord) -> None:
        if record.project != self.project:
            raise StoreError(f"job {record.id} belongs to project {record.project!r}, not {self.project!r}")

    def create(self, record: JobRecord) -> None:
        """Write a new job's index keys, then its record (only if no record has that id)."""
        self._check_project(record)
        self._ensure_index()  # the first job of a new project (or one from before the index) builds it
        # Indexed first: a crash in between leaves an index key naming no record (listings skip it), never a
        # record no listing shows.
        self.index(record)
        try:
            self.store.put_bytes_if(self.record_key(record.id), encode_record(record), if_none_match=True)
        except PreconditionFailed:
            raise StoreError(f"job {record.id} exists already in project {self.project}") from None

    def save(self, record: JobRecord) -> None:
        """Write ``record`` as it is, whatever is stored: no precondition, no transition check. For tests and
        repairs only; the service creates with ``create`` and changes with ``update``."""
        self._check_project(record)
        self.store.put_bytes(self.record_key(record.id), encode_record(record))
        self.index(record)

    def load(self, job_id: str) -> JobRecord:
        return self.load_versioned(job_id)[0]

    def load_versioned(self, job_id: str) -> tuple[JobRecord, str]:
        """The record and its version token (for ``put_bytes_if``)."""
        key = self.record_key(job_id)
        try:
            data, version = self.store.get_with_version(key)
        except ObjectNotFound:
            raise JobNotFound(f"job {job_id} not found in project {self.project} ({self.store.url})") from None
        try:
            return JobRecord.from_doc(decode(data)), version
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"job record {self.store.uri(key)} is corrupt: {exc}") from None

    def update(self, job_id: str, change: Change) -> JobRecord:
        """The one way a stored record changes: read it with its version, apply ``change`` to a copy, write the
        result only if the record is still that version; if another writer got there first, read again and
        call ``change`` again (it decides anew on what is stored now). ``change`` returning None means nothing
        to change: the stored record is returned as is.

        A status change must be allowed by ``JobStatus.can_become`` from the status just read. A record already
        terminal that ``change`` would move elsewhere is a lost race, not an error: nothing is written and the
        terminal record is returned. Any other disallowed change raises ``InvalidTransition`` (a bug)."""
        for attempt in range(MAX_UPDATE_ATTEMPTS):
            if attempt:  # lost a race: a short random pause, so writers that collide do not collide again
                time.sleep(secrets.randbelow(5 * attempt + 5) / 1000)
            current, version = self.load_versioned(job_id)
            changed = change(copy.deepcopy(current))
            if changed is None:
                return current
            if changed.id != current.id or changed.project != current.project:
                raise InvalidTransition(f"an update of job {job_id} may not change its id or project")
            if not current.status.can_become(changed.status):
                if current.status.terminal:
                    return current  # lost the race: another writer ended the job first
                raise InvalidTransition(
                    f"job {job_id}: {current.status.value} -> {changed.status.value} is not an allowed transition"
                )
            ends = changed.status.terminal and not current.status.terminal
            if ends:  # indexed before the record, as at ``create``: never an ended job its status filter misses
                self.store.put_bytes(f"{self.index_status_prefix(changed.status)}{index_name(changed)}", b"")
            try:
                self.store.put_bytes_if(self.record_key(job_id), encode_record(changed), if_match=version)
            except PreconditionFailed:
                continue  # someone wrote in between: re-read and decide again
            if ends:
                self._drop_active(changed)
            return changed
        raise UpdateConflict(f"job {job_id}: gave up after {MAX_UPDATE_ATTEMPTS} conflicting writes to its record")

    def exists(self, job_id: str) -> bool:
        return self.store.exists(self.record_key(job_id))

    def list_ids(self) -> list[str]:
        """Ids of every job in the project from the record keys (not the index), newest first."""
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

    def load_many(self, job_ids: list[str]) -> list[JobRecord]:
        """The records of ``job_ids`` that can be read, in that order (read side by side)."""
        if len(job_ids) <= 1:
            loaded = [self._try_load(i) for i in job_ids]
        else:
            with ThreadPoolExecutor(max_workers=_LOAD_WORKERS) as pool:
                loaded = list(pool.map(self._try_load, job_ids))
        return [r for r in loaded if r is not None]

    def list(self) -> list[JobRecord]:
        """Every job record of the project, newest first. Records that cannot be read are skipped. Reads every
        record: for ``gc`` and repairs; listings page through ``iter_ids`` instead."""
        records = self.load_many(self.list_ids())
        records.sort(key=lambda r: (r.created_at, r.id), reverse=True)
        return records

    # -- the index ------------------------------------------------------------------------------------------------

    def _drop_active(self, record: JobRecord) -> None:
        """The job ended: it leaves the active index (a failure here leaves a key whose record says it ended,
        which status filters read and skip)."""
        try:
            self.store.delete(f"{self.index_active_prefix()}{index_name(record)}")
        except StoreError as exc:
            log.warning("dsjobs: job %s stays in the active index: %s", record.id, exc)

    def index(self, record: JobRecord, *, recent: bool = True) -> None:
        """Write the job's index keys (empty objects; idempotent), then add it to ``recent.json``."""
        name = index_name(record)
        self.store.put_bytes(f"{self.index_jobs_prefix()}{name}", b"")
        if record.status.terminal:
            self.store.put_bytes(f"{self.index_status_prefix(record.status)}{name}", b"")
            self.store.delete(f"{self.index_active_prefix()}{name}")
        else:
            self.store.put_bytes(f"{self.index_active_prefix()}{name}", b"")
        for key, value in record.labels.items():
            self.store.put_bytes(f"{self.index_label_prefix(str(key), str(value))}{name}", b"")
        if recent:
            self._add_recent(name)

    def rebuild_index(self) -> int:
        """Index every record (from the record keys), then mark the index complete; returns how many."""
        records = self.list()
        with ThreadPoolExecutor(max_workers=_LOAD_WORKERS) as pool:
            list(pool.map(lambda r: self.index(r, recent=False), records))
        self._rebuild_recent(only_if_missing=False)
        self.store.put_bytes(self.index_marker_key(), encode(IndexMarker(utcnow(), INDEX_VERSION).to_doc()))
        self._index_seen = True
        log.info("dsjobs: rebuilt the job index of project %s (%d jobs)", self.project, len(records))
        return len(records)

    def _ensure_index(self) -> None:
        """Rebuild the index if it is not marked complete in this layout. The first job of a new project builds it
        (so listings of a project whose jobs all came after never write)."""
        if not self._index_seen and self._index_version() < INDEX_VERSION:
            self.rebuild_index()
        self._index_seen = True

    def _index_version(self) -> int:
        """The layout of the index marked complete; 0 when none is (no marker, or one that cannot be read)."""
        try:
            return IndexMarker.from_doc(decode(self.store.get_bytes(self.index_marker_key()))).version
        except ObjectNotFound:
            return 0
        except ValueError as exc:
            log.warning("dsjobs: the job index marker of project %s is unreadable (%s): rebuilding", self.project, exc)
            return 0

    # -- recent.json: the newest jobs' index names in one object, so the first pages need no listing request -----

    def _read_recent(self) -> tuple[builtins.list[str], str] | None:
        """The names in ``recent.json`` (newest first) and its version; None when it is missing or unreadable."""
        try:
            data, version = self.store.get_with_version(self.recent_key())
            recent = RecentJobs.from_doc(decode(data))
        except ObjectNotFound:
            return None
        except ValueError:
            return None  # unreadable: rebuilt like a missing one
        return builtins.list(recent.names), version

    def _add_recent(self, name: str) -> None:
        """Put a new job's index name into ``recent.json`` (compare-and-swap). A missing one stays missing (the
        next listing rebuilds it from the index keys, which already name this job); one this writer cannot get a
        word into is deleted, for the same reason."""
        key = self.recent_key()
        for attempt in range(MAX_UPDATE_ATTEMPTS):
            if attempt:
                time.sleep(secrets.randbelow(5 * attempt + 5) / 1000)
            got = self._read_recent()
            if got is None:
                return
            names, version = got
            merged = sorted({*names, name})[:RECENT_MAX]
            if merged == names:
                return  # there already, or older than every job it keeps
            try:
                self.store.put_bytes_if(key, _recent_bytes(merged), if_match=version)
                return
            except PreconditionFailed:
                continue
        self.store.delete(key)

    def _recent_names(self) -> builtins.list[str]:
        """The newest jobs' index names: ``recent.json``, rebuilt from the index keys when missing (listed, written
        only if still missing, then listed again for jobs indexed meanwhile, which are added)."""
        got = self._read_recent()
        if got is not None:
            return got[0]
        return self._rebuild_recent(only_if_missing=True)

    def _rebuild_recent(self, *, only_if_missing: bool) -> builtins.list[str]:
        """Write ``recent.json`` from the index keys, then list them again and add the jobs indexed meanwhile (a
        creator indexed after the second listing finds the new object and adds itself)."""
        prefix = self.index_jobs_prefix()
        listed = [k[len(prefix) :] for k in self.store.list_keys(prefix, limit=RECENT_MAX)]
        try:
            self.store.put_bytes_if(self.recent_key(), _recent_bytes(listed), if_none_match=only_if_missing)
        except PreconditionFailed:  # another reader rebuilt it first
            got = self._read_recent()
            return got[0] if got is not None else listed
        again = [k[len(prefix) :] for k in self.store.list_keys(prefix, limit=RECENT_MAX)]
        for name in set(again) - set(listed):
            self._add_recent(name)
        return sorted({*listed, *again})[:RECENT_MAX]

    def _iter_names(self, prefix: str, first_page: int, after: str | None = None) -> Iterator[builtins.list[str]]:
        """Index names under an index prefix, newest first, a listing page at a time (the first ``first_page``
        long), starting after the key ``after``."""
        size = max(1, min(first_page, _INDEX_PAGE))
        while True:
            keys = self.store.list_keys(prefix, start_after=after, limit=size)
            if keys:
                yield [k[len(prefix) :] for k in keys]
            if len(keys) < size:
                return
            after, size = keys[-1], _INDEX_PAGE

    def _iter_index(self, prefix: str, first_page: int, after: str | None = None) -> Iterator[builtins.list[str]]:
        """Job ids under an index prefix, newest first, a listing page at a time (the first ``first_page`` long),
        starting after the key ``after``."""
        for names in self._iter_names(prefix, first_page, after):
            ids = [i for n in names if (i := id_of_index_name(n)) is not None]
            if ids:
                yield ids

    def iter_ids(self, first_page: int = 50) -> Iterator[builtins.list[str]]:
        """Every job id, newest first, in batches: the newest from ``recent.json`` (no listing request; the first
        batch ``first_page`` long), then the older ones from the index keys, a thousand per listing request.
        Rebuilds the index first if it is not complete."""
        self._ensure_index()
        names = self._recent_names()
        start, size = 0, max(1, first_page)
        while start < len(names):
            ids = [i for n in names[start : start + size] if (i := id_of_index_name(n)) is not None]
            if ids:
                yield ids
            start, size = start + size, _INDEX_PAGE
        if len(names) >= RECENT_MAX:  # else recent.json holds every job
            yield from self._iter_index(self.index_jobs_prefix(), _INDEX_PAGE, self.index_jobs_prefix() + names[-1])

    def iter_active_ids(self, first_page: int = 50) -> Iterator[builtins.list[str]]:
        """The ids of the jobs not ended yet (and of a few whose end did not reach the index: read and skipped),
        newest first, in batches: what a filter on active statuses needs to read."""
        self._ensure_index()
        return self._iter_index(self.index_active_prefix(), first_page)

    def iter_status_ids(self, statuses: Iterable[JobStatus], first_page: int = 50) -> Iterator[builtins.list[str]]:
        """The ids of the jobs in ``statuses`` (and of a few whose record says otherwise: read and skipped), newest
        first, in batches (the first ``first_page`` long): the status keys of each ended status and, for statuses
        not ended, the active index, merged on their index names. The first batch costs one listing request per
        index read."""
        self._ensure_index()
        prefixes = dict.fromkeys(self.index_status_prefix(s) for s in statuses)
        streams = [itertools.chain.from_iterable(self._iter_names(p, first_page)) for p in prefixes]
        merged = (name for name, _ in itertools.groupby(heapq.merge(*streams)))  # a name in two indexes: once
        size = max(1, first_page)
        while names := builtins.list(itertools.islice(merged, size)):
            ids = [i for n in names if (i := id_of_index_name(n)) is not None]
            if ids:
                yield ids
            size = _INDEX_PAGE

    def find_by_labels(self, labels: Mapping[str, str]) -> JobRecord | None:
        """The newest job whose labels include ``labels``, from the label index: only jobs carrying the rarest
        of the wanted labels are read."""
        self._ensure_index()
        if not labels:  # every job matches: the newest
            newest = next(self._iter_index(self.index_jobs_prefix(), 1), [])
            return next(iter(self.load_many(newest)), None)
        firsts = {
            (k, v): self.store.list_keys(self.index_label_prefix(k, v), limit=_INDEX_PAGE) for k, v in labels.items()
        }
        (key, value), _ = min(firsts.items(), key=lambda item: len(item[1]))
        complete = [{id_of_index_name(k.rsplit("/", 1)[-1]) for k in keys} for keys in firsts.values()
                    if len(keys) < _INDEX_PAGE]  # fmt: skip
        for ids in self._iter_index(self.index_label_prefix(key, value), _INDEX_PAGE):
            for job_id in ids:  # newest first, one at a time: the first candidate is nearly always the answer
                if not all(job_id in c for c in complete):
                    continue
                record = self._try_load(job_id)
                if record is not None and all(record.labels.get(k) == v for k, v in labels.items()):
                    return record
        return None

    def set_data_ttl(self, job_id: str, days: float | None) -> JobRecord:
        """Keep the job's data ``days`` more days from now (``None``: forever). Returns the saved record."""
        if days is not None and days < 0:
            raise StoreError(f"data TTL must be zero or more days, got {days}")

        def change(record: JobRecord) -> JobRecord:
            record.data_expires_at = None if days is None else utcnow() + timedelta(days=days)
            return record

        return self.update(job_id, change)
