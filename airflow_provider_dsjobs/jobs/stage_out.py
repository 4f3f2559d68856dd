"""Stage out: collect a finished container's logs and outputs into the store and commit them.

``stage_out`` is the body of ``JobService.finalize`` once the container has exited:

1. the complete log is read again from the engine into files spooled on disk and stored under ``logs/``;
2. each declared output is exported from the container (files and directories, streamed) to its place under
   the job's ``outputs/`` prefix (``mirror``); one the job did not write is listed in ``missing_outputs``;
3. when the pyenv build failed, its marker file says why (``read_marker``);
4. on exit 0 each output dataset is published under ``projects/<p>/datasets/<id>/`` with its own manifest
   (``publish_dataset``; the ID is derived from the job id and dataset name, so two finalizers agree); one
   larger than its declared size is not, and the job ends ERROR naming it, its size and the limit;
5. the output manifest is written **last**: the commit point. ``recover_from_manifest`` brings a record to
   the outcome a committed manifest recorded (another finalizer got there, or one crashed right after it).
"""

from __future__ import annotations

import hashlib
import posixpath
from typing import Any, BinaryIO, Protocol, cast

from airflow_provider_dsjobs.jobs import logs as joblogs
from airflow_provider_dsjobs.jobs.dataset_size import DatasetTooLarge, OverLimit, SizeLimitedWriter, exported_size
from airflow_provider_dsjobs.jobs.plan import OutputDatasetPlacement
from airflow_provider_dsjobs.jobs.plan_doc import PlanDoc, output_to_json
from airflow_provider_dsjobs.jobs.record import JobRecord, JobStatus, utcnow
from airflow_provider_dsjobs.jobs.store import JobStore
from airflow_provider_dsjobs.runtime.base import ContainerRuntime
from airflow_provider_dsjobs.runtime.errors import PathNotFound, RuntimeFailure
from airflow_provider_dsjobs.runtime.tarstream import check_member
from airflow_provider_dsjobs.storage.base import StoreError
from airflow_provider_dsjobs.storage.keys import join_key
from airflow_provider_dsjobs.storage.outputs import OutputWriter, read_manifest

#: How much of the pyenv failure marker is read into the status details.
MARKER_LIMIT = 4096


class _StreamWriter(Protocol):
    def put_stream(self, relpath: str, stream: BinaryIO) -> tuple[str, int]: ...


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


def stage_out(
    jobs: JobStore,
    runtime: ContainerRuntime,
    record: JobRecord,
    doc: PlanDoc,
    exit_code: int,
    cancelled: bool,
    oom_killed: bool = False,
) -> Outcome:
    """Collect logs and outputs, publish datasets, commit the manifest; fill in ``record``'s outputs, logs and
    sizes and return the outcome the manifest recorded (the caller sets the status and saves the record).
    ``doc`` is the job's ``plan.json``."""
    store = jobs.store
    cid = record.container_id or ""
    outputs_prefix = jobs.outputs_prefix(record.id)
    writer = OutputWriter(store, outputs_prefix)
    files: list[dict[str, Any]] = []
    outputs: dict[str, str] = {}
    missing: list[str] = []
    with joblogs.LogSpool() as spool:
        for stream, line in runtime.stream_logs(cid, follow=False):
            spool.write(stream, line)
        for out in doc.outputs:
            rel = mirror(out.container_path)
            written = export_into(runtime, cid, out.container_path, posixpath.dirname(rel), writer, files)
            if written is None:
                missing.append(out.key)
                spool.write(
                    joblogs.SYSTEM,
                    f"output {out.path!r} was not written by the job (expected at {out.container_path})",
                )
            else:
                outputs[out.key] = store.uri(join_key(outputs_prefix, rel))
        pyenv_error = None
        if exit_code != 0 and exit_code == doc.python_failed_exit_code and doc.python_failed_marker:
            pyenv_error = read_marker(runtime, cid, doc.python_failed_marker)
        datasets: dict[str, str] = {}
        too_large: list[str] = []
        if exit_code == 0 and not cancelled:
            for ds in doc.output_datasets:
                try:
                    ds_id = publish_dataset(jobs, runtime, record, ds)
                except DatasetTooLarge as exc:
                    too_large.append(str(exc))
                    spool.write(joblogs.SYSTEM, str(exc))
                    continue
                datasets[ds.name] = ds_id
                spool.write(joblogs.SYSTEM, f"created dataset {ds_id} ({ds.name})")
        if cancelled:
            status, details = JobStatus.CANCELLED, "cancelled by user"
        elif pyenv_error is not None:
            status, details = JobStatus.ERROR, f"Python environment build failed: {pyenv_error}"
        elif too_large:
            status, details = JobStatus.ERROR, "; ".join(too_large)
        elif exit_code == 0:
            status, details = JobStatus.SUCCESS, None
        else:
            status, details = JobStatus.ERROR, f"program exited with code {exit_code}"
        if status == JobStatus.ERROR and oom_killed:
            details = f"{details} (out of memory: the job hit the memory limit of its instance type)"
        spool.write(joblogs.SYSTEM, f"exit code {exit_code}; {status.value}" + (f": {details}" if details else ""))
        logs_key = spool.upload(store, jobs.logs_prefix(record.id))
        if spool.progress is not None:
            record.progress, record.progress_message = spool.progress.percent, spool.progress.message
    data_size = sum(int(i.get("size", 0)) for i in record.inputs) + sum(int(f["size"]) for f in files)
    manifest = {
        "job_id": record.id,
        "project": record.project,
        "status": status.value,
        "status_details": details,
        "logs": store.uri(logs_key),
        "data_size_bytes": data_size,
        "return_code": exit_code,
        "outputs": [dict(output_to_json(o), uri=outputs.get(o.key)) for o in doc.outputs],
        "missing_outputs": missing,
        "output_datasets": datasets,
        "files": files,
    }
    # The commit point: written last, so a reader never sees half an output set.
    writer.write_manifest(manifest)
    record.outputs = outputs
    record.missing_outputs = missing
    record.output_datasets = datasets
    record.logs = store.uri(logs_key)
    record.return_code = exit_code
    record.data_size_bytes = data_size
    return status, details


def recover_from_manifest(jobs: JobStore, record: JobRecord) -> Outcome | None:
    """If the job's output manifest is committed, fill in ``record``'s outputs, logs and sizes as it recorded
    them and return its outcome (the caller sets the status and saves the record); else None."""
    try:
        manifest = read_manifest(jobs.store, jobs.outputs_prefix(record.id))
    except StoreError:
        return None
    if not manifest or "status" not in manifest:
        return None
    record.outputs = {
        str(o.get("var") or o.get("path")): str(o["uri"]) for o in manifest.get("outputs", []) if o.get("uri")
    }
    record.missing_outputs = list(manifest.get("missing_outputs", []))
    record.output_datasets = dict(manifest.get("output_datasets", {}))
    record.return_code = manifest.get("return_code")
    record.logs = manifest.get("logs")
    record.data_size_bytes = int(manifest.get("data_size_bytes") or record.data_size_bytes)
    return JobStatus(manifest["status"]), manifest.get("status_details")


def export_into(
    runtime: ContainerRuntime,
    cid: str,
    container_path: str,
    rel_parent: str,
    writer: _StreamWriter,
    files: list[dict[str, Any]],
) -> int | None:
    """Export ``container_path`` (file or dir) into the writer under ``rel_parent``; the number of files,
    or None when the path does not exist in the container. Each file is appended to ``files`` as
    ``{path, sha256, size}``."""
    try:
        reader = runtime.export(cid, container_path)
    except PathNotFound:
        return None
    count = 0
    with reader, reader.open_tar() as archive:
        for member in archive:
            if not member.isfile():
                continue  # directories are implied by their files; links and devices are not outputs
            name = check_member(member)
            relpath = posixpath.join(rel_parent, name) if rel_parent else name
            stream = archive.extractfile(member)
            assert stream is not None
            with stream:
                sha, size = writer.put_stream(relpath, cast(BinaryIO, stream))
            files.append({"path": relpath, "sha256": sha, "size": size})
            count += 1
    return count


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


def publish_dataset(jobs: JobStore, runtime: ContainerRuntime, record: JobRecord, ds: OutputDatasetPlacement) -> str:
    """Export output dataset ``ds`` from the container into ``projects/<p>/datasets/<id>/``, write its manifest,
    and return its ID. Over its declared size it is not published: ``DatasetTooLarge`` (``jobs/dataset_size.py``)."""
    ds_id = dataset_id(record.id, ds.name)
    prefix = jobs.datasets_prefix(ds_id)
    writer = OutputWriter(jobs.store, prefix)
    files: list[dict[str, Any]] = []
    target = SizeLimitedWriter(_StripFirst(writer), ds.size_bytes)
    try:
        # The export of /job/output-datasets/<name> puts everything under <name>/: strip it.
        export_into(runtime, record.container_id or "", ds.container_path, "", target, files)
    except OverLimit:
        for info in list(jobs.store.list(prefix)):
            jobs.store.delete(info.key)
        size = exported_size(runtime, record.container_id or "", ds.container_path)
        raise DatasetTooLarge(ds.name, size, ds.size_bytes) from None
    files = [dict(f, path=str(f["path"]).partition("/")[2]) for f in files]
    size = sum(int(f["size"]) for f in files)
    manifest: dict[str, Any] = {
        "id": ds_id,
        "name": ds.name,
        "description": ds.description,
        "labels": dict(ds.labels),
        "size": size,
        "declared_size": ds.size_bytes,
        "job_id": record.id,
        "project": record.project,
        "created_at": utcnow().isoformat(),
        "files": files,
    }
    writer.write_manifest(manifest)
    return ds_id


class _StripFirst:
    """An OutputWriter proxy that drops the first path component (the exported directory's own name)."""

    def __init__(self, writer: _StreamWriter) -> None:
        self._writer = writer

    def put_stream(self, relpath: str, stream: BinaryIO) -> tuple[str, int]:
        _, _, rest = relpath.partition("/")
        return self._writer.put_stream(rest or relpath, stream)
