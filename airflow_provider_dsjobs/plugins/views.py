"""What the JSON API returns (and the pages show): job records turned into typed response models.

Nothing secret is in a record (``JobRecord``: env values from ``- NAME`` entries and registry passwords are
never stored, secret-looking literals are ``***``; an s3-mount's sync result names its bucket URL, never the
connector's credentials), and only its ``airflow.*`` labels, its redacted config and its public facts are exposed
here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from urllib.parse import quote

from pydantic import BaseModel

from airflow_provider_dsjobs.documents.mount_sync import MountSync
from airflow_provider_dsjobs.documents.record import JobRecord, utcnow
from airflow_provider_dsjobs.documents.storage_grant import StorageGrant
from airflow_provider_dsjobs.jobs.output_files import OutputFile
from airflow_provider_dsjobs.jobs.progress import Progress
from airflow_provider_dsjobs.plugins.chart import StatsChart


class StatusChangeOut(BaseModel):
    status: str
    at: datetime


class LaunchedBy(BaseModel):
    """The Airflow task try that launched a job (from its container labels)."""

    dag_id: str
    task_id: str | None = None
    run_id: str | None = None
    map_index: int | None = None
    try_number: int | None = None


class JobSummary(BaseModel):
    id: str
    project: str
    name: str | None
    status: str
    status_details: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_seconds: float | None
    return_code: int | None
    instance_type: str | None
    data_expires_at: datetime | None
    data_cleared: bool
    launched_by: LaunchedBy | None
    #: The job's last ``dsjobs-progress:`` report (percent, message), live while a follower keeps it.
    progress: float | None = None
    progress_message: str | None = None


class OutputFileOut(BaseModel):
    output: str
    path: str
    size: int
    download_url: str


class WorkingStorageOut(BaseModel):
    """What the job got for its ``working-storage`` (``jobs/working_storage.py``'s ``StorageGrant``): ``mode`` is
    ``size-limit`` (capped at ``limit_bytes``), ``checked`` (``free_bytes`` were free at start, no cap possible) or
    ``unchecked`` (too little was free and ``working_storage_check`` is ``warn``)."""

    requested_bytes: int
    mode: str
    free_bytes: int | None
    limit_bytes: int | None
    held_bytes: int
    storage_driver: str
    path: str
    description: str


class S3SyncOut(BaseModel):
    """How one read-write s3-mount was synced back to its bucket when the job ended (``jobs/s3_sync.py``);
    ``error`` says why a sync failed (``None``: it did not)."""

    id: str
    url: str
    uploaded_files: int
    uploaded_bytes: int
    unchanged_files: int
    skipped: list[str]
    error: str | None


class JobDetail(JobSummary):
    desc: str | None
    image: str | None
    parent_job_id: str | None
    history: list[StatusChangeOut]
    outputs: list[OutputFileOut]
    missing_outputs: list[str]
    output_datasets: dict[str, str]
    config_yaml: str | None
    working_storage: WorkingStorageOut | None
    s3_sync: list[S3SyncOut]
    can_cancel: bool
    can_change_data: bool
    #: An active job whose container has exited shows its exit code here: reading the page changes nothing, so it
    #: stays active until its follower (its task, ``dsjobs get``) finalizes it. None otherwise.
    container_exit_code: int | None = None
    #: CPU and memory over the run, from the stored ``docker_stats.tsv`` (None without two samples).
    stats_chart: StatsChart | None = None


class JobList(BaseModel):
    conn_id: str
    project: str
    total: int
    #: False when the listing stopped once it had more than the page: ``total`` is then "at least".
    total_exact: bool = True
    offset: int
    jobs: list[JobSummary]


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def launched_by(record: JobRecord) -> LaunchedBy | None:
    labels = record.labels
    dag_id = labels.get("airflow.dag_id")
    if not dag_id:
        return None
    return LaunchedBy(
        dag_id=dag_id,
        task_id=labels.get("airflow.task_id"),
        run_id=labels.get("airflow.run_id"),
        map_index=_int(labels.get("airflow.map_index")),
        try_number=_int(labels.get("airflow.try_number")),
    )


def duration_seconds(record: JobRecord) -> float | None:
    """From start (or creation, for a job that never ran) to the end, or to now while it is active."""
    start = record.started_at or record.created_at
    end = record.finished_at or (None if record.status.terminal else utcnow())
    if end is None:
        return None
    return max(0.0, (end - start).total_seconds())


#: Cleans a job's own message for a viewer (``plugins/masking.fact_cleaner``: secrets masked, addresses hidden).
Clean = Callable[[str], str]


def keep(text: str) -> str:
    """A message shown as it is (nothing in it can be a secret or an address)."""
    return text


def summary(record: JobRecord, clean: Clean = keep, progress: Progress | None = None) -> JobSummary:
    return JobSummary(
        progress=progress.percent if progress is not None else None,
        progress_message=clean(progress.message) if progress is not None and progress.message else None,
        id=record.id,
        project=record.project,
        name=record.name,
        status=record.status.value,
        status_details=clean(record.status_details) if record.status_details else record.status_details,
        created_at=record.created_at,
        started_at=record.started_at,
        finished_at=record.finished_at,
        duration_seconds=duration_seconds(record),
        return_code=record.return_code,
        instance_type=record.instance_type,
        data_expires_at=record.data_expires_at,
        data_cleared=record.data_cleared,
        launched_by=launched_by(record),
    )


def working_storage(grant: StorageGrant | None) -> WorkingStorageOut | None:
    if grant is None:
        return None
    return WorkingStorageOut(**grant.to_doc(), description=grant.describe())


def s3_sync(synced: MountSync, clean: Clean = keep) -> S3SyncOut:
    out = S3SyncOut.model_validate(synced, from_attributes=True)
    return out.model_copy(update={"error": clean(out.error)}) if out.error else out


def download_url(root: str, record: JobRecord, item: OutputFile, conn_id: str) -> str:
    return f"{root}/api/jobs/{record.id}/outputs/{quote(item.path)}?conn_id={quote(conn_id)}"


def detail(
    record: JobRecord,
    files: list[OutputFile],
    *,
    root: str,
    conn_id: str,
    can_cancel: bool,
    can_change: bool,
    exited: int | None = None,
    clean: Clean = keep,
    progress: Progress | None = None,
    stats: StatsChart | None = None,
) -> JobDetail:
    return JobDetail(
        **summary(record, clean, progress).model_dump(),
        stats_chart=stats,
        desc=record.desc,
        image=record.image,
        parent_job_id=record.parent_job_id,
        history=[StatusChangeOut(status=h.status.value, at=h.at) for h in record.history],
        outputs=[
            OutputFileOut(
                output=f.output, path=f.path, size=f.size, download_url=download_url(root, record, f, conn_id)
            )
            for f in files
        ],
        missing_outputs=list(record.missing_outputs),
        output_datasets=dict(record.output_datasets),
        config_yaml=record.raw_config,
        working_storage=working_storage(record.working_storage),
        s3_sync=[s3_sync(m, clean) for m in record.s3_sync],
        can_cancel=can_cancel and not record.status.terminal,
        can_change_data=can_change and not record.data_cleared,
        container_exit_code=None if record.status.terminal else exited,
    )
