"""Stage out: collect a finished container's logs and outputs into the store and commit them.

``stage_out`` is the body of ``JobService.finalize`` once the container has exited:

1. the complete log is read again from the engine into files spooled on disk and stored under ``logs/``;
2. each declared output is exported from the container (files and directories, streamed) to its place under
   the job's ``outputs/`` prefix (``mirror``); one the job did not write is listed in ``missing_outputs``;
3. when the pyenv build failed, its marker file says why (``read_marker``);
4. on exit 0 each output dataset is published under ``projects/<p>/datasets/<id>/`` with its own manifest
   (``publish_dataset``; the ID is derived from the job id and dataset name, so two finalizers agree); one
   larger than its declared size is not, and the job ends ERROR naming it, its size and the limit;
5. each read-write s3-mount is synced back to its bucket, whatever the outcome (``jobs/s3_sync.py``);
6. the output manifest is written **last**: the commit point. ``recover_from_manifest`` reads the outcome a
   committed manifest recorded (another finalizer got there, or one crashed right after it).

Its input is a ``StageOutRequest`` and its result a ``StageOutResult`` (both frozen): it never changes the job
record; the lifecycle (``jobs/finalizer.py``) stores the result with the terminal status in one write.
"""

from __future__ import annotations

import hashlib
import posixpath
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from airflow_provider_dsjobs.config.redact import value_masker
from airflow_provider_dsjobs.documents.manifest import DatasetManifest, OutputsManifest, StoredFile, StoredOutput
from airflow_provider_dsjobs.documents.mount_sync import MountSync, SyncMount
from airflow_provider_dsjobs.documents.plan_doc import OutputDatasetPlacement, PlanDoc
from airflow_provider_dsjobs.documents.record import JobStatus, utcnow
from airflow_provider_dsjobs.jobs import logs as joblogs
from airflow_provider_dsjobs.jobs.container_export import StripFirst, export_into
from airflow_provider_dsjobs.jobs.dataset_size import DatasetTooLarge, OverLimit, SizeLimitedWriter, exported_size
from airflow_provider_dsjobs.jobs.errors import one_line
from airflow_provider_dsjobs.jobs.manifest import read_outputs_manifest
from airflow_provider_dsjobs.jobs.result_file import read_result
from airflow_provider_dsjobs.jobs.s3_sync import SourceResolver, sync_mount
from airflow_provider_dsjobs.jobs.store import JobStore
from airflow_provider_dsjobs.resources.s3_connectors import S3Source
from airflow_provider_dsjobs.runtime.base import ContainerRuntime
from airflow_provider_dsjobs.runtime.errors import (
    ContainerNotFound,
    EngineUnreachable,
    RuntimeFailure,
)
from airflow_provider_dsjobs.storage.base import StoreError
from airflow_provider_dsjobs.storage.keys import join_key
from airflow_provider_dsjobs.storage.outputs import OutputWriter

#: How much of the pyenv failure marker is read into the status details.
MARKER_LIMIT = 4096
#: Exit codes of a container stopped by a signal from outside the job (128 + the signal's number): what the engine
#: sends when it stops or restarts, or ``docker stop``/``docker kill``; a cancel by dsjobs ends CANCELLED instead.
_STOPPED_FROM_OUTSIDE = {143: "SIGTERM", 137: "SIGKILL"}
#: Failures while collecting outputs that still leave the logs stored and the outputs so far committed.
_COLLECTION_ERRORS = (RuntimeFailure, StoreError, OSError, tarfile.TarError)


def dataset_id(job_id: str, name: str) -> str:
    """A deterministic dataset ID (20 chars of ``[0-9a-z]``), so two finalizers publish the same dataset."""
    digest = hashlib.sha256(f"{job_id}/{name}".encode()).hexdigest()
    return "ds" + digest[:18]


def mirror(container_path: str) -> str:
    """Where an output lives under the job's ``outputs/`` prefix: ``/job/work/out.txt`` → ``work/out.txt``
    (var-less outputs, at their relative paths) and ``/job/outputs/VAR/x.csv`` → ``vars/VAR/x.csv``."""
    rel = posixpath.normpath(container_path).lstrip("/").removeprefix("job/")
    if rel.startswith("outputs/"):
        rel = "vars/" + rel.removeprefix("outputs/")
    return rel


#: A job's outcome: its terminal status and the reason (``status_details``).
Outcome = tuple[JobStatus, "str | None"]


@dataclass(frozen=True)
class SyncTarget:
    """One read-write s3-mount to sync back, with its bucket and credentials resolved by the finalizer (``source``)
    or why they could not be (``error``): stage-out never reaches back into the service for them."""

    mount: SyncMount
    source: S3Source | None = None
    error: str | None = None


@dataclass(frozen=True)
class StageOutRequest:
    """What stage-out needs of a job whose container has exited."""

    job_id: str
    project: str
    container_id: str
    #: The bytes of the job's inputs (``data_size_bytes`` counts them with the outputs).
    input_bytes: int
    exit_code: int
    cancelled: bool
    oom_killed: bool = False
    sync: tuple[SyncTarget, ...] = ()
    #: Values the stored log shows as ``***`` (``jobs/log_masking.py``); never stored, never shown.
    secrets: frozenset[str] = field(default=frozenset(), repr=False)


@dataclass(frozen=True)
class StageOutResult:
    """A job's outcome as its committed outputs manifest records it, and what the record stores with it. Only the
    lifecycle applies it to the record (``record_fields``), in the same write as the terminal status."""

    status: JobStatus
    details: str | None
    outputs: Mapping[str, str]
    missing_outputs: tuple[str, ...]
    output_datasets: Mapping[str, str]
    s3_sync: tuple[MountSync, ...]
    logs: str | None
    return_code: int | None
    data_size_bytes: int | None
    #: The job's last progress marker ``(percent, message)``, when its log had one.
    progress: tuple[float, str] | None = None
    #: Whether ``result`` was read from the container (a recovered outcome leaves the record's as it is).
    has_result: bool = False
    result: Any = None

    @property
    def outcome(self) -> Outcome:
        return self.status, self.details

    def record_fields(self) -> dict[str, Any]:
        """The record's fields this outcome sets (``JobRecord`` attribute names and values)."""
        values: dict[str, Any] = {
            "outputs": dict(self.outputs),
            "missing_outputs": list(self.missing_outputs),
            "output_datasets": dict(self.output_datasets),
            "s3_sync": list(self.s3_sync),
            "logs": self.logs,
            "return_code": self.return_code,
        }
        if self.data_size_bytes:
            values["data_size_bytes"] = self.data_size_bytes
        if self.progress is not None:
            values["progress"], values["progress_message"] = self.progress
        if self.has_result:
            values["result"] = self.result
        return values


@dataclass
class _Collected:
    """What stage-out gathered from the container besides its logs."""

    files: list[StoredFile] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    datasets: dict[str, str] = field(default_factory=dict)
    pyenv_error: str | None = None
    failure: str | None = None
    #: Output datasets over their declared size (not published): one message each.
    too_large: list[str] = field(default_factory=list)
    #: Read-write s3-mounts synced back (``jobs/s3_sync.py``).
    synced: list[MountSync] = field(default_factory=list)


def stage_out(jobs: JobStore, runtime: ContainerRuntime, job: StageOutRequest, doc: PlanDoc) -> StageOutResult:
    """Collect logs and outputs, publish datasets, sync read-write s3-mounts back, commit the manifest; the outcome
    the manifest recorded (the caller stores it with the terminal status). ``doc`` is the job's ``plan.json``.

    The logs are stored and the manifest committed even when collecting an output fails half-way (the
    outcome is then ERROR with the reason); only a lost container or engine leaves nothing committed."""
    writer = OutputWriter(jobs.store, jobs.outputs_prefix(job.job_id))
    with joblogs.LogSpool(value_masker(job.secrets)) as spool:
        for stream, line in runtime.stream_logs(job.container_id, follow=False):
            spool.write(stream, line)
        got = _collect(jobs, runtime, job, doc, writer, spool)
        if job.exit_code != 0 and job.exit_code == doc.python_failed_exit_code and doc.python_failed_marker:
            got.pyenv_error = read_marker(runtime, job.container_id, doc.python_failed_marker)
        result, warning = read_result(runtime, job.container_id)
        if warning:
            spool.write(joblogs.SYSTEM, f"warning: {warning}")
        got.synced = _sync_back(runtime, job.container_id, job.sync, spool)
        status, details = _final_outcome(job, got)
        line = f"exit code {job.exit_code}; {status.value}" + (f": {details}" if details else "")
        spool.write(joblogs.SYSTEM, line)
        logs_key = spool.upload(jobs.store, lambda name: jobs.log_key(job.job_id, name))
        progress = (spool.progress.percent, spool.progress.message) if spool.progress is not None else None
    manifest = OutputsManifest(
        job_id=job.job_id,
        project=job.project,
        status=status,
        status_details=details,
        logs=jobs.store.uri(logs_key),
        data_size_bytes=job.input_bytes + sum(f.size for f in got.files),
        return_code=job.exit_code,
        outputs=tuple(StoredOutput(o, got.outputs.get(o.key)) for o in doc.outputs),
        missing_outputs=tuple(got.missing),
        output_datasets=got.datasets,
        files=tuple(got.files),
        s3_sync=tuple(got.synced),
    )
    # The commit point: written last, so a reader never sees half an output set.
    writer.write_manifest(manifest.to_doc())
    return replace(_result_of(manifest, status, details), progress=progress, has_result=True, result=result)


def _final_outcome(job: StageOutRequest, got: _Collected) -> Outcome:
    """The outcome from the exit and what collecting found; a failed sync-back turns a success into ERROR."""
    failure = got.failure or ("; ".join(got.too_large) if got.too_large else None)
    status, details = _outcome(job.exit_code, job.cancelled, job.oom_killed, got.pyenv_error, failure)
    failed = next((m for m in got.synced if m.error), None)
    if status == JobStatus.SUCCESS and failed is not None:
        return JobStatus.ERROR, f"syncing s3-mount {failed.id} back to {failed.url} failed: {failed.error}"
    return status, details


def _result_of(manifest: OutputsManifest, status: JobStatus, details: str | None) -> StageOutResult:
    """The outcome ``manifest`` records, as the record stores it."""
    return StageOutResult(
        status=status,
        details=details,
        outputs=manifest.stored_outputs,
        missing_outputs=tuple(manifest.missing_outputs),
        output_datasets=dict(manifest.output_datasets),
        s3_sync=tuple(manifest.s3_sync),
        logs=manifest.logs,
        return_code=manifest.return_code,
        data_size_bytes=manifest.data_size_bytes,
    )


def _collect(
    jobs: JobStore,
    runtime: ContainerRuntime,
    job: StageOutRequest,
    doc: PlanDoc,
    writer: OutputWriter,
    spool: joblogs.LogSpool,
) -> _Collected:
    """Export each declared output (and, on exit 0 without a cancel, each output dataset), saying in the log what
    was skipped or missing. A failure half-way ends the collection with ``failure`` set."""
    got = _Collected()
    cid = job.container_id
    publish = job.exit_code == 0 and not job.cancelled
    try:
        for out in doc.outputs:
            rel = mirror(out.container_path)
            exported = export_into(runtime, cid, out.container_path, posixpath.dirname(rel), writer)
            for line in exported.skipped if exported is not None else ():
                spool.write(joblogs.SYSTEM, f"output {out.path!r}: {line}")
            if exported is None or exported.refused is not None:
                got.missing.append(out.key)
                why = "was not written by the job" if exported is None else exported.refused
                spool.write(joblogs.SYSTEM, f"output {out.path!r} {why} (expected at {out.container_path})")
                continue
            got.files += exported.files
            got.outputs[out.key] = jobs.store.uri(join_key(writer.prefix, rel))
        for ds in doc.output_datasets if publish else ():
            try:
                ds_id = publish_dataset(jobs, runtime, job, ds)
            except DatasetTooLarge as exc:
                got.too_large.append(str(exc))
                spool.write(joblogs.SYSTEM, str(exc))
                continue
            got.datasets[ds.name] = ds_id
            spool.write(joblogs.SYSTEM, f"created dataset {ds_id} ({ds.name})")
    except _COLLECTION_ERRORS as exc:
        if isinstance(exc, (ContainerNotFound, EngineUnreachable)):
            raise  # another finalizer removed it, or try again once the engine is back: nothing to commit here
        got.failure = f"collecting outputs failed: {one_line(exc)}"
        spool.write(joblogs.SYSTEM, got.failure)
    return got


def _sync_back(
    runtime: ContainerRuntime, cid: str, targets: tuple[SyncTarget, ...], spool: joblogs.LogSpool
) -> list[MountSync]:
    """Sync each read-write s3-mount back to its bucket (whatever the job's outcome), one log line each."""
    synced: list[MountSync] = []
    for target in targets:
        mount, source = target.mount, target.source
        if source is None:
            result = MountSync(mount.id, mount.url, error=target.error or "no way to resolve its credentials here")
        else:
            result = sync_mount(runtime, cid, mount, _resolved(source))
        for line in result.skipped:
            spool.write(joblogs.SYSTEM, f"s3-mount {mount.id}: {line}")
        spool.write(joblogs.SYSTEM, result.describe())
        synced.append(result)
    return synced


def _resolved(source: S3Source) -> SourceResolver:
    """A resolver that gives the source the finalizer resolved already."""
    return lambda _mount: source


def _outcome(
    exit_code: int, cancelled: bool, oom_killed: bool, pyenv_error: str | None, failure: str | None
) -> Outcome:
    """The terminal status and its details."""
    if cancelled:
        return JobStatus.CANCELLED, "cancelled by user"
    if failure is not None:
        details = failure
    elif pyenv_error is not None:
        details = f"Python environment build failed: {pyenv_error}"
    elif exit_code == 0:
        return JobStatus.SUCCESS, None
    elif exit_code in _STOPPED_FROM_OUTSIDE and not oom_killed:
        details = (
            f"the container was stopped by {_STOPPED_FROM_OUTSIDE[exit_code]} (exit code {exit_code}), which dsjobs "
            "did not send: most likely the Docker engine stopping or restarting, or `docker stop`/`docker kill`"
        )
    else:
        details = f"program exited with code {exit_code}"
    if oom_killed:
        details = f"{details} (out of memory: the job hit the memory limit of its instance type)"
    return JobStatus.ERROR, details


def recover_from_manifest(jobs: JobStore, job_id: str) -> StageOutResult | None:
    """The outcome the job's committed output manifest recorded (another finalizer got there, or one crashed right
    after the commit point); None when it is not committed."""
    try:
        manifest = read_outputs_manifest(jobs, job_id)
    except StoreError:
        return None
    if manifest is None or manifest.status is None:
        return None
    return _result_of(manifest, manifest.status, manifest.status_details)


def read_marker(runtime: ContainerRuntime, cid: str, path: str) -> str | None:
    """The reason in the pyenv failure marker at ``path`` (its first line, plus pip's last ``ERROR:`` line),
    or None when the container has no such file."""
    try:
        reader = runtime.export(cid, path)
    except RuntimeFailure:
        return None
    with reader, reader.open_tar() as archive:
        for member in archive:
            if member.isfile():
                fh = archive.extractfile(member)
                if fh is None:
                    continue
                lines = fh.read(MARKER_LIMIT).decode("utf-8", "replace").strip().splitlines()
                first = lines[0] if lines else "pip failed"
                _, sep, reason = first.partition("could not be built: ")
                reason = (reason if sep else first).strip() or "pip failed"
                errors = [ln.strip() for ln in lines[1:] if ln.strip().startswith("ERROR:")]
                return f"{reason}: {errors[-1]}" if errors else reason
    return None


def publish_dataset(jobs: JobStore, runtime: ContainerRuntime, job: StageOutRequest, ds: OutputDatasetPlacement) -> str:
    """Export output dataset ``ds`` from the container into ``projects/<p>/datasets/<id>/``, write its manifest,
    and return its ID. Over its declared size it is not published: ``DatasetTooLarge`` (``jobs/dataset_size.py``)."""
    ds_id = dataset_id(job.job_id, ds.name)
    prefix = jobs.datasets_prefix(ds_id)
    writer = OutputWriter(jobs.store, prefix)
    target = SizeLimitedWriter(StripFirst(writer), ds.size_bytes)
    try:
        # The export of /job/output-datasets/<name> puts everything under <name>/: strip it.
        exported = export_into(runtime, job.container_id, ds.container_path, "", target)
    except OverLimit:
        for info in list(jobs.store.list(prefix)):
            jobs.store.delete(info.key)
        size = exported_size(runtime, job.container_id, ds.container_path)
        raise DatasetTooLarge(ds.name, size, ds.size_bytes) from None
    collected = exported.files if exported is not None and exported.refused is None else []
    files = tuple(replace(f, path=f.path.partition("/")[2]) for f in collected)
    manifest = DatasetManifest(
        id=ds_id,
        name=ds.name,
        description=ds.description,
        labels=dict(ds.labels),
        size=sum(f.size for f in files),
        declared_size=ds.size_bytes,
        job_id=job.job_id,
        project=job.project,
        created_at=utcnow().isoformat(),
        files=files,
    )
    writer.write_manifest(manifest.to_doc())
    return ds_id
