"""Job statuses and the job record: the JSON document in the store that is the source of truth for a job
(``record.json``, ``jobs/store.py``)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta, timezone
from typing import Any, TypeGuard

from airflow_provider_dsjobs.documents.mount_sync import MountSync
from airflow_provider_dsjobs.documents.storage_grant import StorageGrant

#: How long job data (inputs, outputs, logs) is kept unless ``set-data-ttl`` changes it.
DEFAULT_DATA_TTL = timedelta(days=14)


class JobStatus(str, enum.Enum):
    """The DataSphere job lifecycle: CREATING → PREPARING → EXECUTING → UPLOADING_OUTPUT → SUCCESS/ERROR,
    and from any active state CANCELLING → CANCELLED. :data:`TRANSITIONS` is the whole table (``can_become``);
    ``JobStore.update`` checks every status change against it."""

    CREATING = "CREATING"
    PREPARING = "PREPARING"
    EXECUTING = "EXECUTING"
    UPLOADING_OUTPUT = "UPLOADING_OUTPUT"
    SUCCESS = "SUCCESS"
    ERROR = "ERROR"
    CANCELLING = "CANCELLING"
    CANCELLED = "CANCELLED"

    @property
    def terminal(self) -> bool:
        return self in (JobStatus.SUCCESS, JobStatus.ERROR, JobStatus.CANCELLED)

    def can_become(self, status: JobStatus) -> bool:
        """Whether a record in this status may be saved with ``status`` (staying in a status always may)."""
        return status == self or status in TRANSITIONS[self]

    def __str__(self) -> str:
        return self.value


_S = JobStatus
#: Every allowed status change (from → to). A terminal status is never left. CANCELLING → SUCCESS/ERROR: the job
#: ended on its own before the cancel reached it (its committed outputs manifest says so); EXECUTING → SUCCESS/
#: ERROR/CANCELLED: a finalizer recovering a manifest another one committed.
TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    _S.CREATING: frozenset({_S.PREPARING, _S.CANCELLING, _S.CANCELLED, _S.ERROR}),
    _S.PREPARING: frozenset({_S.EXECUTING, _S.CANCELLING, _S.CANCELLED, _S.ERROR}),
    _S.EXECUTING: frozenset({_S.UPLOADING_OUTPUT, _S.CANCELLING, _S.SUCCESS, _S.ERROR, _S.CANCELLED}),
    _S.UPLOADING_OUTPUT: frozenset({_S.CANCELLING, _S.SUCCESS, _S.ERROR, _S.CANCELLED}),
    _S.CANCELLING: frozenset({_S.CANCELLED, _S.SUCCESS, _S.ERROR}),
    _S.SUCCESS: frozenset(),
    _S.ERROR: frozenset(),
    _S.CANCELLED: frozenset(),
}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _parse_iso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


_DATETIME_FIELDS = ("created_at", "started_at", "finished_at", "data_expires_at", "data_cleared_at")


def day(value: datetime) -> str:
    """A moment as users read it in messages: ``2026-12-15 09:40 UTC``."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


#: ``InputRef.role`` of a Python local module shipped besides the config's inputs.
ROLE_PYTHON_MODULE = "python-local-module"


@dataclass(frozen=True)
class InputRef:
    """One entry of ``JobRecord.inputs``: an input of the config by content, which ``gc`` keeps alive and ``fork``
    reuses instead of the submitter's files.

    ``path`` and ``var`` are as written in the config; ``sha256`` is the blob's for a file, the tree id for a
    directory; ``size`` the total bytes; ``mode`` a file's (0o755 when executable), so a fork keeps it. A Python
    local module shipped besides the inputs has ``role`` :data:`ROLE_PYTHON_MODULE` and its ``container_path``."""

    path: str
    var: str | None
    kind: str  # "file" | "dir"
    sha256: str
    size: int
    mode: int = 0o644
    role: str | None = None
    container_path: str | None = None

    def to_doc(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "path": self.path,
            "var": self.var,
            "kind": self.kind,
            "sha256": self.sha256,
            "size": self.size,
            "mode": self.mode,
        }
        if self.role is not None:
            data["role"] = self.role
            data["container_path"] = self.container_path
        return data

    @staticmethod
    def names_content(doc: object) -> TypeGuard[Mapping[str, Any]]:
        """Whether a stored entry names content (one that does not is dropped: nothing can reuse or keep it)."""
        return isinstance(doc, dict) and isinstance(doc.get("sha256"), str)

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> InputRef:
        container_path = doc.get("container_path")
        return cls(
            path=str(doc.get("path")),
            var=doc.get("var"),
            kind=str(doc.get("kind")),
            sha256=str(doc["sha256"]),
            size=int(doc.get("size") or 0),
            mode=int(doc.get("mode") or 0o644),
            role=doc.get("role"),
            container_path=str(container_path) if container_path else None,
        )


@dataclass(frozen=True)
class EngineRef:
    """The Docker engine that runs a job (``JobRecord.engine``): ``id`` is the engine's own ID (``docker info``),
    stable across restarts; ``name`` the one the deployment gives it (``DSJOBS_ENGINE_NAME``, else the engine's
    host name), which readers look up in their engine map (``DSJOBS_ENGINES``); ``url`` where its submitter
    reached it. Never TLS material: a reader takes that from its own engine map."""

    id: str
    name: str
    url: str | None = None

    def to_doc(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "url": self.url}

    @staticmethod
    def names_engine(doc: object) -> TypeGuard[Mapping[str, Any]]:
        """Whether a record's ``engine`` entry names one: not in a record written before jobs named their engine
        (nor in a broken entry: such a job is treated as an old one, ``jobs/ownership.py``)."""
        return isinstance(doc, dict) and isinstance(doc.get("id"), str) and bool(doc["id"])

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> EngineRef:
        url = doc.get("url")
        return cls(id=str(doc["id"]), name=str(doc.get("name") or doc["id"]), url=url if isinstance(url, str) else None)


@dataclass
class StatusChange:
    """One entry of a job's history: the status, when, and which step observed it (``submit``, ``cancel``,
    ``finalize``, ``lease``; ``None`` in records written before steps were named)."""

    status: JobStatus
    at: datetime
    by: str | None = None

    def to_doc(self) -> dict[str, Any]:
        data = {"status": self.status.value, "at": self.at.isoformat()}
        if self.by is not None:
            data["by"] = self.by
        return data

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> StatusChange:
        return cls(JobStatus(doc["status"]), datetime.fromisoformat(doc["at"]), doc.get("by"))


@dataclass
class JobRecord:
    """Everything known about one job. Secrets never go in here: env values from ``- NAME`` entries and
    registry passwords are not stored, only their names.

    ``outputs`` maps each output's var (or its path, when it has no var) to its URI in the store;
    ``output_datasets`` maps a dataset name to its ID; ``logs`` is the URI of the stored combined log.
    """

    id: str
    project: str
    status: JobStatus = JobStatus.CREATING
    name: str | None = None
    desc: str | None = None
    created_at: datetime = field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    status_details: str | None = None
    return_code: int | None = None
    data_size_bytes: int = 0
    data_expires_at: datetime | None = None
    data_cleared: bool = False
    data_cleared_at: datetime | None = None
    #: Why: ``"expired"`` (gc, past the TTL) or ``"cleared"`` (``dsjobs clear``).
    data_cleared_reason: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    raw_config: str | None = None
    base_dir: str | None = None
    image: str | None = None
    instance_type: str | None = None
    container_id: str | None = None
    container_name: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    inputs: list[InputRef] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    missing_outputs: list[str] = field(default_factory=list)
    output_datasets: dict[str, str] = field(default_factory=dict)
    logs: str | None = None
    parent_job_id: str | None = None
    #: The last progress the job reported (``jobs/progress.py``): percent 0-100 and its message.
    progress: float | None = None
    progress_message: str | None = None
    history: list[StatusChange] = field(default_factory=list)
    #: What the job got for its ``working-storage`` (``jobs/working_storage.py``); None without one.
    working_storage: StorageGrant | None = None
    #: How each read-write s3-mount was synced back to its bucket when the job ended (``jobs/s3_sync.py``).
    s3_sync: list[MountSync] = field(default_factory=list)
    #: ``"config"`` (a config.yaml job) or ``"lab"`` (an ML Lab image job, ``config`` holds its ``LabJobConfig``)
    kind: str = "config"
    #: The JSON the job wrote to ``DSJOBS_RESULT_FILE`` (``jobs/result_file.py``); None when it wrote none.
    result: Any = None
    #: The engine that runs the job, set at launch before its container is created; None in older records.
    engine: EngineRef | None = None

    def set_status(self, status: JobStatus, details: str | None = None, *, by: str | None = None) -> None:
        """Move to ``status`` and stamp the time (``by``: the step that observed it); terminal statuses also set
        ``finished_at``. Only inside ``JobStore.update`` (``JobService._move``), which checks :data:`TRANSITIONS`."""
        now = utcnow()
        self.status = status
        if details is not None:
            self.status_details = details
        if status == JobStatus.EXECUTING and self.started_at is None:
            self.started_at = now
        if status.terminal and self.finished_at is None:
            self.finished_at = now
        self.history.append(StatusChange(status, now, by))

    def expired(self, now: datetime | None = None) -> bool:
        """Whether a finished job's data is past its TTL (a running job's never is)."""
        expires = self.data_expires_at
        return self.status.terminal and expires is not None and expires <= (now or utcnow())

    def data_unavailable(self, now: datetime | None = None) -> str | None:
        """Why the job's stored data (inputs, outputs, logs) can no longer be read, or None while it can. Data past
        its TTL counts as gone even before ``gc`` deletes it."""
        if self.data_cleared:
            when = f" on {day(self.data_cleared_at)}" if self.data_cleared_at else ""
            why = " (dsjobs clear)" if self.data_cleared_reason == "cleared" else " (its data TTL expired)"
            return f"job {self.id} data was cleared{when}{why}"
        if self.expired(now):
            assert self.data_expires_at is not None
            return (
                f"job {self.id} data expired on {day(self.data_expires_at)} (its data TTL) and is no longer available"
            )
        return None

    def mark_cleared(self, reason: str, now: datetime | None = None) -> None:
        self.data_cleared = True
        self.data_cleared_at = now or utcnow()
        self.data_cleared_reason = reason

    def to_doc(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        for name in _DATETIME_FIELDS:
            data[name] = _iso(getattr(self, name))
        data["inputs"] = [i.to_doc() for i in self.inputs]
        data["history"] = [h.to_doc() for h in self.history]
        data["working_storage"] = self.working_storage.to_doc() if self.working_storage is not None else None
        data["s3_sync"] = [m.to_doc() for m in self.s3_sync]
        data["engine"] = self.engine.to_doc() if self.engine is not None else None
        return data

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> JobRecord:
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in doc.items() if k in known}
        kwargs["status"] = JobStatus(kwargs.get("status", JobStatus.CREATING.value))
        for name in _DATETIME_FIELDS:
            if name in kwargs:
                kwargs[name] = _parse_iso(kwargs[name])
        kwargs["inputs"] = [InputRef.from_doc(i) for i in doc.get("inputs") or [] if InputRef.names_content(i)]
        kwargs["history"] = [StatusChange.from_doc(h) for h in doc.get("history", [])]
        grant = doc.get("working_storage")
        kwargs["working_storage"] = StorageGrant.from_doc(grant) if isinstance(grant, dict) else None
        engine = doc.get("engine")
        kwargs["engine"] = (
            EngineRef.from_doc(engine) if isinstance(engine, dict) and EngineRef.names_engine(engine) else None
        )
        kwargs["s3_sync"] = [MountSync.from_doc(m) for m in doc.get("s3_sync") or () if isinstance(m, dict)]
        return cls(**kwargs)
