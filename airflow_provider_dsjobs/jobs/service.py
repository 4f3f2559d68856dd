"""The job service: one run of a config, end to end (DESIGN.md "One run, end to end").

This is the only API the CLI and the Airflow layer use to run, watch, cancel and inspect jobs.
Every method is safe to call from any process that has the same ``Settings``: state lives in the job
record in the store and in the container's labels on the engine, never in this object.

Lifecycle and where each step lives:

1. **Plan** (``jobs/plan.py``): pure; a bad config, a missing input, env var, secret or s3-mount raises
   ``JobError`` before anything is stored.
2. **Stage in**: inputs (and Python local modules) go through the content-addressed cache; only missing blobs
   are uploaded. The record (CREATING) is written, with ``inputs`` = ``{path, var, kind, sha256, size}``, and a
   small ``plan.json`` next to it (output placements, output datasets, graceful shutdown, the pyenv marker: what a
   finalizer in another process needs; no env values, no secrets).
3. **Launch**: PREPARING; the image is ensured, the container created (labels ``dsjobs.job_id``,
   ``dsjobs.project`` + the caller's; name ``dsjobs-<job_id>``), the inputs delivered with one lazily built tar
   stream through ``put_archive`` (no bind mounts: works with a remote engine), then started: EXECUTING.
   Any failure after the record exists leaves it ERROR with ``status_details`` and removes the container.
4. **Watch** (``wait``): the container's output goes live to the ``LogSink``.
5. **Finalize** (``finalize``; idempotent): UPLOADING_OUTPUT; the complete log is read again from the engine into
   files spooled on disk and stored (``logs/stdout.txt``, ``stderr.txt``, ``log.txt``) — so the stored log is
   whole even when nobody watched; each declared output is exported (files and directories, streamed) into the
   store, a missing one is listed in ``record.missing_outputs`` and in the log; on exit 0 output datasets are
   published; the output manifest is written **last**; then SUCCESS / ERROR / CANCELLED is saved and the
   container removed. Two finalizers write the same keys with the same bytes (dataset IDs are derived from the
   job id and dataset name), the terminal record is saved before the container is removed, and a finalizer that
   loses the container half-way re-reads the record and returns the terminal one: nothing is corrupted.

Cancel: CANCELLING is saved; with ``graceful`` and a ``graceful-shutdown`` section the signal is sent and the
container gets its timeout before SIGKILL, otherwise it is killed at once; then finalize (outputs and logs are
collected) ends it CANCELLED. A cancel that arrives while the job is still being submitted ends it CANCELLED
before it starts.

Store layout of one job (``JobStore``): ``record.json``, ``plan.json``, ``outputs/`` (``work/<relpath>`` for
var-less outputs, ``vars/<VAR>/<name>`` for var outputs, ``manifest.json`` last), ``logs/``. Output datasets go
to ``projects/<p>/datasets/<id>/`` with their own ``manifest.json``; a dataset used by ID is every object under
that prefix except the manifest.

Not supported on Docker (a line says so at submit): ``working-storage`` (the container's own filesystem is the
scratch space) and ``spark``. Links inside output directories are skipped.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import posixpath
import tarfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from airflow_provider_dsjobs.config.model import JobConfig
from airflow_provider_dsjobs.jobs import logs as joblogs
from airflow_provider_dsjobs.jobs.plan import (
    LABEL_JOB_ID,
    LABEL_PROJECT,
    SIGNAL_NUMBERS,
    JobPlan,
    PlanError,
    plan_job,
)
from airflow_provider_dsjobs.jobs.record import DEFAULT_DATA_TTL, JobRecord, JobStatus, utcnow
from airflow_provider_dsjobs.settings import Settings
from airflow_provider_dsjobs.storage.base import ObjectStore, StoreError
from airflow_provider_dsjobs.storage.keys import join_key

#: Receives the job's output line by line: ``(stream, line)`` with stream ``"stdout"`` or ``"stderr"``
#: (and ``"system"`` for the service's own lines: staging summary, stored-log markers).
LogSink = Callable[[str, str], None]
#: Receives the service's progress messages for a human ("uploaded 0 B (all 3 inputs cached)").
Notify = Callable[[str], None]

PLAN_DOC = "plan.json"
#: The manifest (commit point) of an output set and of a dataset, written last by ``OutputWriter``.
MANIFEST_NAME = "manifest.json"
#: How much of the pyenv failure marker is read into the status details.
_MARKER_LIMIT = 4096
#: Cap on the bytes copied from one s3-mount into a container.
S3_MOUNT_MAX_BYTES = 1 << 30


class JobError(Exception):
    """A job could not be created, run or inspected. The message is one line a user can act on."""


@dataclass
class GcReport:
    jobs_cleared: list[str] = field(default_factory=list)
    blobs_deleted: int = 0
    bytes_freed: int = 0


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _noop(_: str) -> None:
    return None


def _dataset_id(job_id: str, name: str) -> str:
    """A deterministic dataset ID (20 chars of ``[0-9a-z]``), so two finalizers publish the same dataset."""
    digest = hashlib.sha256(f"{job_id}/{name}".encode()).hexdigest()
    return "ds" + digest[:18]


def _mirror(container_path: str) -> str:
    """Where an output lives under the job's ``outputs/`` prefix: ``/job/work/out.txt`` → ``work/out.txt``
    (var-less outputs, at their relative paths) and ``/job/outputs/VAR/x.csv`` → ``vars/VAR/x.csv``."""
    rel = posixpath.normpath(container_path).lstrip("/").removeprefix("job/")
    if rel.startswith("outputs/"):
        rel = "vars/" + rel.removeprefix("outputs/")
    return rel


class JobService:
    """Runs configs as Docker containers with inputs and outputs staged through the store."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._store: ObjectStore | None = None
        self._jobs: Any = None
        self._engine: Any = None
        self._runtime: Any = None
        self._lock = threading.Lock()

    # -- wiring ----------------------------------------------------------------------------------------------

    @property
    def project(self) -> str:
        return self.settings.project

    @property
    def store(self) -> ObjectStore:
        if self._store is None:
            from airflow_provider_dsjobs.storage.open import open_store

            try:
                self._store = open_store(self.settings)
            except StoreError as exc:
                raise JobError(_one_line(exc)) from None
        return self._store

    @property
    def jobs(self) -> Any:
        if self._jobs is None:
            from airflow_provider_dsjobs.jobs.store import JobStore

            self._jobs = JobStore(self.store, self.project)
        return self._jobs

    @property
    def runtime(self) -> Any:
        with self._lock:
            if self._runtime is None:
                from airflow_provider_dsjobs.runtime.containers import Runtime
                from airflow_provider_dsjobs.runtime.engine import connect_engine
                from airflow_provider_dsjobs.runtime.errors import RuntimeFailure

                try:
                    self._engine = connect_engine(self.settings)
                except RuntimeFailure as exc:
                    raise JobError(_one_line(exc)) from None
                self._runtime = Runtime(self._engine)
            return self._runtime

    def close(self) -> None:
        if self._engine is not None:
            with suppress(Exception):
                self._engine.close()
            self._engine = None
            self._runtime = None

    def _load(self, job_id: str) -> JobRecord:
        from airflow_provider_dsjobs.jobs.store import JobNotFound

        try:
            record: JobRecord = self.jobs.load(job_id)
        except JobNotFound:
            raise JobError(f"job {job_id} not found in project {self.project}") from None
        except StoreError as exc:
            raise JobError(_one_line(exc)) from None
        return record

    def _save(self, record: JobRecord) -> None:
        try:
            self.jobs.save(record)
        except StoreError as exc:
            raise JobError(_one_line(exc)) from None

    def _plan_key(self, job_id: str) -> str:
        return join_key(self.jobs.job_prefix(job_id), PLAN_DOC)

    def _plan_doc(self, job_id: str) -> dict[str, Any]:
        try:
            return dict(json.loads(self.store.get_bytes(self._plan_key(job_id))))
        except StoreError:
            return {}

    # -- submit ----------------------------------------------------------------------------------------------

    def submit(
        self,
        config: JobConfig,
        *,
        labels: Mapping[str, str] | None = None,
        log: LogSink | None = None,
        notify: Notify | None = None,
        environ: Mapping[str, str] | None = None,
        parent_job_id: str | None = None,
        progress_stream: TextIO | None = None,
    ) -> JobRecord:
        """Plan, stage inputs in, create and start the container. Returns as soon as the job runs
        (status EXECUTING); the record is already in the store, so ``record.id`` can be persisted.
        ``labels`` are added to the container and the record (the Airflow layer passes dag/task/run ids).
        ``notify`` receives progress lines for a human; ``environ`` replaces ``os.environ`` for ``- NAME`` vars;
        ``progress_stream`` shows an upload progress bar there (a redrawn bar on a terminal, lines otherwise).
        A config that cannot be planned raises ``JobError`` before anything is stored; a failure later leaves
        the record ERROR with the reason in ``status_details`` (and raises ``JobError`` with it)."""
        say: Notify = notify or ((lambda message: log("system", message)) if log is not None else _noop)
        try:
            job_id = self.jobs.new_job_id()
        except StoreError as exc:
            raise JobError(_one_line(exc)) from None
        try:
            plan = plan_job(config, self.settings, job_id=job_id, project=self.project, labels=labels, environ=environ)
        except PlanError as exc:
            raise JobError(str(exc)) from None
        self._check_datasets(plan)
        if config.working_storage is not None:
            say("working-storage is ignored on Docker: the container's filesystem is the job's scratch space")
        if config.spark is not None:
            say("spark is not supported on Docker: the connector is ignored")

        now = utcnow()
        record = JobRecord(
            id=job_id,
            project=self.project,
            name=config.name,
            desc=config.desc,
            created_at=now,
            data_expires_at=now + DEFAULT_DATA_TTL,
            config=config.to_dict(),
            raw_config=config.raw_text,
            base_dir=str(config.base_dir),
            image=plan.image,
            labels=dict(plan.labels),
            parent_job_id=parent_job_id,
        )
        record.set_status(JobStatus.CREATING)
        self._save(record)
        say(f"created job {job_id}")
        try:
            self.runtime  # noqa: B018 - connect first: an unreachable engine fails before any upload
            self.store.put_bytes(self._plan_key(job_id), json.dumps(_plan_to_doc(plan), indent=1).encode())
            staged, stager = self._stage_in(plan, record, say, progress_stream)
            if self._cancelled_meanwhile(record):
                return record
            self._save(record)
            stager.release()  # the record now references the inputs: gc keeps them
            self._launch(plan, record, staged, say)
        except JobError as exc:
            with suppress(JobError):
                if self._cancelled_meanwhile(record):  # the failure came from a cancel removing the container
                    return record
            self._fail(record, str(exc))
            raise
        except KeyboardInterrupt:
            self._fail(record, "interrupted while the job was being submitted", JobStatus.CANCELLED)
            raise
        except Exception as exc:
            self._fail(record, _one_line(exc))
            raise JobError(_one_line(exc)) from None
        return record

    def _fail(self, record: JobRecord, reason: str, status: JobStatus = JobStatus.ERROR) -> None:
        """Mark a job that could not be launched ERROR and remove whatever container it got."""
        if record.container_id and self._runtime is not None:
            with suppress(Exception):
                self._runtime.remove(record.container_id, force=True)
        record.set_status(status, reason)
        with suppress(Exception):
            self.jobs.save(record)

    def _check_datasets(self, plan: JobPlan) -> None:
        for ds in plan.datasets:
            prefix = self.jobs.datasets_prefix(ds.id)
            try:
                found = next(iter(self.store.list(prefix)), None)
            except StoreError as exc:
                raise JobError(_one_line(exc)) from None
            if found is None:
                where = self.store.uri(prefix.rstrip("/"))
                raise JobError(f"unknown dataset {ds.id!r}: nothing at {where} in project {plan.project}")

    def _stage_in(
        self, plan: JobPlan, record: JobRecord, say: Notify, progress_stream: TextIO | None
    ) -> tuple[list[tuple[str, Any]], Any]:
        """Upload missing input blobs; returns ``(container_path, staged)`` pairs for delivery, and the stager
        (whose lease protects the blobs from ``gc`` until the record referencing them is saved)."""
        from airflow_provider_dsjobs.storage.cas import InputStager
        from airflow_provider_dsjobs.storage.progress import TransferProgress, human_size

        progress = TransferProgress("upload", progress_stream) if progress_stream is not None else None
        stager = InputStager(self.store, self.project, progress)
        paths = [p.local_path for p in plan.inputs] + [e.local_path for e in plan.extra_files]
        try:
            staged_all = stager.stage_all(paths) if paths else []
        except StoreError as exc:
            raise JobError(_one_line(exc)) from None
        staged: list[tuple[str, Any]] = []
        for placement, s in zip(plan.inputs, staged_all[: len(plan.inputs)], strict=True):
            staged.append((placement.container_path, s))
            record.inputs.append(
                {"path": placement.path, "var": placement.var, "kind": s.kind, "sha256": s.sha256, "size": s.size}
            )
        for extra, s in zip(plan.extra_files, staged_all[len(plan.inputs) :], strict=True):
            staged.append((extra.container_path, s))
            record.inputs.append(
                {
                    "path": str(extra.local_path),
                    "var": None,
                    "kind": s.kind,
                    "sha256": s.sha256,
                    "size": s.size,
                    "role": "python-local-module",
                }
            )
        uploaded = int(stager.stats.bytes_uploaded)
        total = sum(int(i["size"]) for i in record.inputs)
        n = len(record.inputs)
        if n and uploaded == 0:
            say(f"uploaded 0 B (all {n} inputs cached)")
        elif n and progress is None:
            say(f"uploaded {human_size(uploaded)} of {human_size(total)} ({n} inputs)")
        record.data_size_bytes = total
        return staged, stager

    def _launch(self, plan: JobPlan, record: JobRecord, staged: list[tuple[str, Any]], say: Notify) -> None:
        from airflow_provider_dsjobs.runtime.containers import ContainerSpec
        from airflow_provider_dsjobs.runtime.errors import RuntimeFailure
        from airflow_provider_dsjobs.runtime.images import ensure_image
        from airflow_provider_dsjobs.runtime.resources import choose_instance_type
        from airflow_provider_dsjobs.runtime.tarstream import tar_stream

        runtime = self.runtime
        record.set_status(JobStatus.PREPARING)
        self._save(record)
        try:
            ensure_image(self._engine, plan.image, username=plan.registry_username, password=plan.registry_password)
            for name in plan.volumes:
                if plan.python is not None and name == plan.python.volume_name:
                    self._ensure_volume(name, dict(plan.python.volume_labels))
                else:  # the project disk: created empty on first use, filled by whoever owns the project
                    self._ensure_volume(name, {LABEL_PROJECT: plan.project, "dsjobs.project-disk": "1"})
            if plan.python is not None:
                for note in plan.python.notes:
                    say(f"python environment: {note}")
            choice = choose_instance_type(plan.instance_types, self._engine.info())
            record.instance_type = choice.name
            spec = ContainerSpec(
                image=plan.image,
                command=list(plan.command),
                env=dict(plan.env),
                labels=dict(plan.labels),
                working_dir=plan.workdir,
                name=f"dsjobs-{plan.job_id}",
                resources=choice,
                network=self.settings.docker_network,
                volumes={k: dict(v) for k, v in plan.volumes.items()},
                stop_signal=plan.graceful_signal,
            )
            container_id = runtime.create(spec)
            record.container_id = str(container_id)
            record.container_name = spec.name
            self._save(record)
            say(f"container {spec.name} created from {plan.image} ({choice.name})")
            runtime.put_archive(container_id, "/", tar_stream(self._archive_entries(plan, staged)))
            if self._cancelled_meanwhile(record):
                return
            runtime.start(container_id)
        except RuntimeFailure as exc:
            raise JobError(_one_line(exc)) from None
        except StoreError as exc:
            raise JobError(_one_line(exc)) from None
        record.set_status(JobStatus.EXECUTING)
        self._save(record)

    def _cancelled_meanwhile(self, record: JobRecord) -> bool:
        """Whether someone cancelled the job while it was being submitted; if so, end it CANCELLED here
        (``record`` is updated in place) and remove its container."""
        latest = self._load(record.id)
        if latest.status not in (JobStatus.CANCELLING, JobStatus.CANCELLED):
            return False
        if record.container_id and self._runtime is not None:
            with suppress(Exception):
                self._runtime.remove(record.container_id, force=True)
        record.history = latest.history
        record.set_status(JobStatus.CANCELLED, "cancelled before the job started")
        self._save(record)
        return True

    def _ensure_volume(self, name: str, labels: dict[str, str]) -> None:
        """Create a labelled named volume unless it exists (two jobs may race: the loser finds it there)."""
        from airflow_provider_dsjobs.runtime.errors import RuntimeFailure

        if name in self.runtime.list_volumes(labels):
            return
        try:
            self.runtime.create_volume(name, labels)
        except RuntimeFailure:
            if name not in self.runtime.list_volumes(labels):
                raise

    def _archive_entries(self, plan: JobPlan, staged: list[tuple[str, Any]]) -> Iterator[Any]:
        """The tar entries that build the workspace: directories, inputs, datasets, s3-mounts (lazily opened)."""
        from airflow_provider_dsjobs.runtime.tarstream import TarDir, TarFile
        from airflow_provider_dsjobs.storage.cas import BlobSource

        hints: dict[str, Path] = {}
        for _, s in staged:
            hints.update(s.local_hints())
        source = BlobSource(self.store, self.project, hints)
        dirs_done: set[str] = set()

        def parents(path: str) -> Iterator[Any]:
            """Directory entries for every missing parent of ``path`` (world-writable: any container user)."""
            parts = path.strip("/").split("/")[:-1]
            for i in range(1, len(parts) + 1):
                d = "/".join(parts[:i])
                if d not in dirs_done:
                    dirs_done.add(d)
                    yield TarDir(d, mode=0o777)

        for d in plan.directories:
            yield from parents(d + "/x")
        for cpath, s in staged:
            if s.kind == "file":
                yield from parents(cpath)
                yield TarFile(
                    cpath.lstrip("/"),
                    size=int(s.size),
                    opener=_opener(source, s.sha256, s.size),
                    mode=s.entries[0].mode if s.entries else 0o644,
                )
                continue
            yield from parents(cpath + "/x")
            for entry in s.entries:
                full = posixpath.join(cpath, entry.path)
                yield from parents(full)
                if entry.kind == "dir":
                    yield from parents(full + "/x")
                elif entry.sha256:
                    yield TarFile(
                        full.lstrip("/"),
                        size=entry.size,
                        opener=_opener(source, entry.sha256, entry.size),
                        mode=entry.mode,
                    )
        for ds in plan.datasets:
            prefix = self.jobs.datasets_prefix(ds.id).rstrip("/") + "/"
            yield from parents(ds.container_path + "/x")
            for info in self.store.list(prefix):
                rel = info.key[len(prefix) :]
                if not rel or rel == MANIFEST_NAME:
                    continue
                full = posixpath.join(ds.container_path, rel)
                yield from parents(full)
                yield TarFile(full.lstrip("/"), size=info.size, opener=_store_opener(self.store, info.key), mode=0o444)
        for extra in plan.extra_bytes:
            yield from parents(extra.container_path)
            yield TarFile(
                extra.container_path.lstrip("/"), size=len(extra.content), opener=_bytes_opener(extra.content)
            )
        for mount in plan.s3_mounts:
            yield from parents(mount.container_path + "/x")
            yield from _s3_mount_entries(self.settings, mount.url, mount.container_path, parents)

    # -- watching --------------------------------------------------------------------------------------------

    def refresh(self, job_id: str) -> JobRecord:
        """The record with its status brought up to date from the engine, without staging out (nothing is
        saved). A job whose container has exited, or is gone, but which is not finalized is reported as
        UPLOADING_OUTPUT: the caller's cue to call ``finalize``."""
        record = self._load(job_id)
        if record.status.terminal or not record.container_id:
            return record
        if not self._container_running(record):
            # Exited (or already removed by a finalizer): ``finalize`` settles the outcome.
            record.status = JobStatus.UPLOADING_OUTPUT
        return record

    def _container_running(self, record: JobRecord) -> bool | None:
        """True/False from the engine; None when the container is gone."""
        from airflow_provider_dsjobs.runtime.errors import RuntimeFailure

        try:
            state = self.runtime.state(record.container_id)
        except RuntimeFailure as exc:
            raise JobError(_one_line(exc)) from None
        if state is None:
            return None
        return not state.finished

    def wait(
        self,
        job_id: str,
        *,
        log: LogSink | None = None,
        poll_interval: float = 1.0,
        timeout: float | None = None,
        since: float | None = None,
    ) -> JobRecord:
        """Stream the job's output to ``log`` while it runs, then finalize; returns the terminal record.

        The output starts at the job's first line (or at ``since``, epoch seconds: a re-attaching caller
        passes the time it last saw output, to avoid repeating lines). ``timeout`` (seconds) raises
        ``JobError`` if the job still runs by then (the job keeps running); it is checked between polls, so
        with a ``log`` it applies once the output stream has ended. Safe to call from several processes."""
        from airflow_provider_dsjobs.runtime.errors import ContainerNotFound, RuntimeFailure

        record = self._load(job_id)
        deadline = None if timeout is None else time.monotonic() + timeout
        # Still being launched by another process: wait for the container or a terminal status.
        while not record.container_id and not record.status.terminal:
            if deadline is not None and time.monotonic() > deadline:
                raise JobError(f"job {job_id} is still being launched after {timeout} s")
            time.sleep(poll_interval)
            record = self._load(job_id)
        if record.status.terminal:
            return record
        while True:
            if log is not None:
                try:
                    for stream, line in self.runtime.stream_logs(record.container_id, follow=True, since=since):
                        log(stream, line)
                except (ContainerNotFound, RuntimeFailure):
                    # Gone (finalized by someone else) or the stream broke: the state decides below, and the
                    # stored log is complete either way.
                    pass
                since = time.time()
            if not self._container_running(record):
                break
            if deadline is not None and time.monotonic() > deadline:
                raise JobError(f"job {job_id} is still running after {timeout} s")
            time.sleep(poll_interval)
        return self.finalize(job_id)

    # -- finalize --------------------------------------------------------------------------------------------

    def finalize(self, job_id: str) -> JobRecord:
        """Stage outputs out, publish output datasets, write the manifest last, set the terminal status,
        remove the container. Idempotent: on a terminal job it changes nothing. On a job still running it
        changes nothing either and returns the current record."""
        from airflow_provider_dsjobs.runtime.errors import ContainerNotFound, RuntimeFailure

        record = self._load(job_id)
        if record.status.terminal:
            return record
        if not record.container_id:
            return record
        runtime = self.runtime
        try:
            state = runtime.state(record.container_id)
        except RuntimeFailure as exc:
            raise JobError(_one_line(exc)) from None
        if state is None:
            return self._container_lost(job_id)
        if state.status == "created":
            # Created but never started: a launch still under way elsewhere (or one that died half-way).
            if record.status == JobStatus.CANCELLING:
                with suppress(RuntimeFailure):
                    runtime.remove(record.container_id, force=True)
                record.set_status(JobStatus.CANCELLED, "cancelled before the job started")
                self._save(record)
            return record
        if not state.finished:
            return record
        recovered = self._recover_committed(record)
        if recovered is not None:
            return recovered
        cancelled = record.status in (JobStatus.CANCELLING, JobStatus.CANCELLED)
        exit_code = state.exit_code if state.exit_code is not None else -1
        if not cancelled:
            record.set_status(JobStatus.UPLOADING_OUTPUT)
            self._save(record)
        doc = self._plan_doc(job_id)
        try:
            self._stage_out(record, doc, int(exit_code), cancelled, state.oom_killed)
        except ContainerNotFound:
            return self._container_lost(job_id)
        except (RuntimeFailure, StoreError, OSError, tarfile.TarError) as exc:
            latest = self._load(job_id)
            if latest.status.terminal:
                return latest
            record.return_code = int(exit_code)
            record.set_status(JobStatus.ERROR, f"collecting outputs failed: {_one_line(exc)}")
            self._save(record)
            with suppress(Exception):
                runtime.remove(record.container_id, force=True)
            return record
        latest = self._load(job_id)
        if latest.status.terminal:  # another finalizer got there first with the same result
            record = latest
        else:
            self._save(record)
        with suppress(ContainerNotFound, RuntimeFailure):
            runtime.remove(record.container_id, force=True)
        return record

    def _recover_committed(self, record: JobRecord) -> JobRecord | None:
        """If the output manifest is already committed (another finalizer, or one that crashed right after the
        commit point), bring the record to the result it recorded; else None."""
        from airflow_provider_dsjobs.storage.outputs import read_manifest

        try:
            manifest = read_manifest(self.store, self.jobs.outputs_prefix(record.id))
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
        record.set_status(JobStatus(manifest["status"]), manifest.get("status_details"))
        self._save(record)
        if record.container_id and self._runtime is not None:
            with suppress(Exception):
                self._runtime.remove(record.container_id, force=True)
        return record

    def _container_lost(self, job_id: str) -> JobRecord:
        """The container is gone: another finalizer won (the record is terminal or the manifest committed),
        or it vanished."""
        record = self._load(job_id)
        if record.status.terminal:
            return record
        recovered = self._recover_committed(record)
        if recovered is not None:
            return recovered
        if record.status == JobStatus.CANCELLING:
            record.set_status(JobStatus.CANCELLED, "cancelled before the container ran")
        else:
            record.set_status(JobStatus.ERROR, f"container {record.container_name or record.container_id} disappeared")
        self._save(record)
        return record

    def _stage_out(
        self, record: JobRecord, doc: Mapping[str, Any], exit_code: int, cancelled: bool, oom_killed: bool = False
    ) -> None:
        """Collect logs and outputs, publish datasets, commit the manifest, set the outcome on ``record``."""
        from airflow_provider_dsjobs.storage.outputs import OutputWriter

        runtime = self.runtime
        cid = record.container_id or ""
        outputs_prefix = self.jobs.outputs_prefix(record.id)
        writer = OutputWriter(self.store, outputs_prefix)
        files: list[dict[str, Any]] = []
        outputs: dict[str, str] = {}
        missing: list[str] = []
        with joblogs.LogSpool() as spool:
            for stream, line in runtime.stream_logs(cid, follow=False):
                spool.write(stream, line)
            for out in doc.get("outputs", []):
                key = out["var"] or out["path"]
                mirror = _mirror(out["container_path"])
                written = self._export_into(cid, out["container_path"], posixpath.dirname(mirror), writer, files)
                if written is None:
                    missing.append(key)
                    spool.write(
                        joblogs.SYSTEM,
                        f"output {out['path']!r} was not written by the job (expected at {out['container_path']})",
                    )
                else:
                    outputs[key] = self.store.uri(join_key(outputs_prefix, mirror))
            pyenv_error = None
            if exit_code != 0 and exit_code == doc.get("python_failed_exit_code") and doc.get("python_failed_marker"):
                pyenv_error = self._read_marker(cid, str(doc["python_failed_marker"]))
            datasets: dict[str, str] = {}
            if exit_code == 0 and not cancelled:
                for ds in doc.get("output_datasets", []):
                    ds_id = self._publish_dataset(record, ds)
                    datasets[ds["name"]] = ds_id
                    spool.write(joblogs.SYSTEM, f"created dataset {ds_id} ({ds['name']})")
            if cancelled:
                status, details = JobStatus.CANCELLED, "cancelled by user"
            elif pyenv_error is not None:
                status, details = JobStatus.ERROR, f"Python environment build failed: {pyenv_error}"
            elif exit_code == 0:
                status, details = JobStatus.SUCCESS, None
            else:
                status, details = JobStatus.ERROR, f"program exited with code {exit_code}"
            if status == JobStatus.ERROR and oom_killed:
                details = f"{details} (out of memory: the job hit the memory limit of its instance type)"
            spool.write(joblogs.SYSTEM, f"exit code {exit_code}; {status.value}" + (f": {details}" if details else ""))
            logs_key = spool.upload(self.store, self.jobs.logs_prefix(record.id))
        data_size = sum(int(i.get("size", 0)) for i in record.inputs) + sum(int(f["size"]) for f in files)
        manifest = {
            "job_id": record.id,
            "project": record.project,
            "status": status.value,
            "status_details": details,
            "logs": self.store.uri(logs_key),
            "data_size_bytes": data_size,
            "return_code": exit_code,
            "outputs": [dict(o, uri=outputs.get(o["var"] or o["path"])) for o in doc.get("outputs", [])],
            "missing_outputs": missing,
            "output_datasets": datasets,
            "files": files,
        }
        # The commit point: written last, so a reader never sees half an output set.
        writer.write_manifest(manifest)
        record.outputs = outputs
        record.missing_outputs = missing
        record.output_datasets = datasets
        record.logs = self.store.uri(logs_key)
        record.return_code = exit_code
        record.data_size_bytes = data_size
        record.set_status(status, details)

    def _export_into(
        self, cid: str, container_path: str, rel_parent: str, writer: Any, files: list[dict[str, Any]]
    ) -> int | None:
        """Export ``container_path`` (file or dir) into the writer under ``rel_parent``; the number of files,
        or None when the path does not exist in the container."""
        from airflow_provider_dsjobs.runtime.errors import PathNotFound
        from airflow_provider_dsjobs.runtime.tarstream import check_member

        try:
            reader = self.runtime.export(cid, container_path)
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
                    sha, size = writer.put_stream(relpath, stream)
                files.append({"path": relpath, "sha256": sha, "size": size})
                count += 1
        return count

    def _read_marker(self, cid: str, path: str) -> str | None:
        from airflow_provider_dsjobs.runtime.errors import RuntimeFailure

        try:
            reader = self.runtime.export(cid, path)
        except RuntimeFailure:
            return None
        with reader, reader.open_tar() as archive:
            for member in archive:
                if member.isfile():
                    fh = archive.extractfile(member)
                    if fh is None:
                        continue
                    lines = fh.read(_MARKER_LIMIT).decode("utf-8", "replace").strip().splitlines()
                    first = lines[0] if lines else "pip failed"
                    _, sep, reason = first.partition("could not be built: ")
                    reason = (reason if sep else first).strip() or "pip failed"
                    errors = [ln.strip() for ln in lines[1:] if ln.strip().startswith("ERROR:")]
                    return f"{reason}: {errors[-1]}" if errors else reason
        return None

    def _publish_dataset(self, record: JobRecord, ds: Mapping[str, Any]) -> str:
        from airflow_provider_dsjobs.storage.outputs import OutputWriter

        ds_id = _dataset_id(record.id, str(ds["name"]))
        prefix = self.jobs.datasets_prefix(ds_id)
        writer = OutputWriter(self.store, prefix)
        files: list[dict[str, Any]] = []
        # The export of /job/output-datasets/<name> puts everything under <name>/: strip it.
        self._export_into(record.container_id or "", ds["container_path"], "", _StripFirst(writer), files)
        files = [dict(f, path=str(f["path"]).partition("/")[2]) for f in files]
        size = sum(int(f["size"]) for f in files)
        manifest: dict[str, Any] = {
            "id": ds_id,
            "name": ds["name"],
            "description": ds.get("description", ""),
            "labels": dict(ds.get("labels", {})),
            "size": size,
            "declared_size": ds.get("size_bytes"),
            "job_id": record.id,
            "project": record.project,
            "created_at": utcnow().isoformat(),
            "files": files,
        }
        writer.write_manifest(manifest)
        return ds_id

    # -- inspection ------------------------------------------------------------------------------------------

    def get(self, job_id: str) -> JobRecord:
        """The record; a job whose container has exited is finalized first."""
        record = self._load(job_id)
        if record.status.terminal or not record.container_id:
            return record
        if self._container_running(record) is True:
            return record
        return self.finalize(job_id)

    def find(self, labels: Mapping[str, str]) -> JobRecord | None:
        """The newest job whose labels include ``labels`` (re-attaching after a worker crash)."""
        want = {str(k): str(v) for k, v in labels.items()}
        # A live container is the cheap answer (one engine query); else scan the project's records.
        with suppress(JobError, Exception):
            for container in self.runtime.find({**want, LABEL_PROJECT: self.project}):
                job_id = container.labels.get(LABEL_JOB_ID)
                if job_id:
                    return self._load(job_id)
        best: JobRecord | None = None
        for record in self.list_jobs():
            if all(record.labels.get(k) == v for k, v in want.items()) and (
                best is None or record.created_at > best.created_at
            ):
                best = record
        return best

    def list_jobs(self) -> list[JobRecord]:
        try:
            records = list(self.jobs.list())
        except StoreError as exc:
            raise JobError(_one_line(exc)) from None
        return sorted(records, key=lambda r: r.created_at, reverse=True)

    def cancel(self, job_id: str, *, graceful: bool = True) -> JobRecord:
        """Cancel: with ``graceful`` and a ``graceful-shutdown`` section, send its signal and wait its timeout
        before killing; otherwise kill at once. The status ends CANCELLED and the container is removed."""
        from airflow_provider_dsjobs.runtime.errors import ContainerNotFound, RuntimeFailure

        record = self._load(job_id)
        if record.status.terminal:
            return record
        if record.status != JobStatus.CANCELLING:
            record.set_status(JobStatus.CANCELLING)
            self._save(record)
        if not record.container_id:
            record.set_status(JobStatus.CANCELLED, "cancelled before the container ran")
            self._save(record)
            return record
        doc = self._plan_doc(job_id)
        sig = doc.get("graceful_signal") if graceful else None
        try:
            if sig:
                self.runtime.stop(record.container_id, signal=str(sig), timeout=float(doc.get("graceful_timeout") or 0))
            else:
                self.runtime.stop(record.container_id, signal=None)
        except ContainerNotFound:
            return self._container_lost(job_id)
        except RuntimeFailure as exc:
            raise JobError(_one_line(exc)) from None
        return self.finalize(job_id)

    def logs(self, job_id: str, *, tail: int | None = None) -> Iterator[tuple[str, str]]:
        """The job's output as ``(stream, line)`` pairs: live from the engine while it runs, from the store after.
        Stored logs also carry the service's own lines as stream ``"system"``."""
        record = self._load(job_id)
        return joblogs.tail(_guard(self._log_pairs(record)), tail)

    def _log_pairs(self, record: JobRecord) -> Iterator[tuple[str, str]]:
        from airflow_provider_dsjobs.runtime.errors import ContainerNotFound

        if not record.status.terminal and record.container_id:
            try:
                yield from self.runtime.stream_logs(record.container_id, follow=False)
                return
            except ContainerNotFound:  # finalized meanwhile: read what was stored
                record = self._load(record.id)
        if record.logs:
            yield from joblogs.read_combined(
                self.store, join_key(self.jobs.logs_prefix(record.id), joblogs.COMBINED_FILE)
            )

    def set_data_ttl(self, job_id: str, days: int | None) -> JobRecord:
        """Keep the job's data ``days`` more days from now; ``None`` keeps it forever."""
        if days is not None and days < 1:
            raise JobError("TTL days should be positive")
        record = self._load(job_id)
        try:
            result = self.jobs.set_data_ttl(job_id, days)
        except StoreError as exc:
            raise JobError(_one_line(exc)) from None
        if isinstance(result, JobRecord):
            return result
        record.data_expires_at = None if days is None else utcnow() + timedelta(days=days)
        self._save(record)
        return record

    def download_files(
        self,
        job_id: str,
        *,
        output_dir: Path | None = None,
        with_logs: bool = False,
        progress_stream: TextIO | None = None,
    ) -> list[Path]:
        """Bring outputs (and logs) to their local paths, or flattened into ``output_dir``.

        Without ``output_dir`` each output goes to its path from the config (relative to the config's
        directory; directories are recreated). With it, each output lands at ``output_dir/<basename>``.
        Logs go to ``output_dir`` (or the current directory) as ``<job_id>.log.txt``, ``.stdout.txt``,
        ``.stderr.txt``. Existing files are replaced; an existing directory where a file belongs is an error.
        ``progress_stream`` shows a download progress bar there."""
        from airflow_provider_dsjobs.storage.progress import TransferProgress

        record = self._load(job_id)
        if record.data_cleared:
            raise JobError(f"job {job_id} data is cleared (its data TTL expired)")
        doc = self._plan_doc(job_id)
        outputs_prefix = self.jobs.outputs_prefix(job_id)
        transfers: list[tuple[str, Path, int]] = []
        empty_dirs: list[Path] = []
        try:
            for out in doc.get("outputs", []):
                key = out["var"] or out["path"]
                if key not in record.outputs:
                    continue
                local = Path(out["local_path"])
                if output_dir is not None:
                    local = Path(output_dir) / Path(out["path"]).name
                found = self._plan_download(join_key(outputs_prefix, _mirror(out["container_path"])), local)
                transfers += found
                if not found:
                    empty_dirs.append(local)
            if with_logs and record.logs:
                target_dir = Path(output_dir) if output_dir is not None else Path.cwd()
                prefix = self.jobs.logs_prefix(job_id)
                for name in (joblogs.COMBINED_FILE, joblogs.STDOUT_FILE, joblogs.STDERR_FILE):
                    key = join_key(prefix, name)
                    transfers.append((key, target_dir / f"{job_id}.{name}", int(self.store.size(key) or 0)))
            progress = TransferProgress("download", progress_stream) if progress_stream is not None else None
            if progress:
                progress.start(len(transfers), sum(size for _, _, size in transfers))
            for key, path, _ in transfers:
                path.parent.mkdir(parents=True, exist_ok=True)
                self.store.get_file(key, path, progress.update if progress else None)
            if progress:
                progress.finish()
            for path in empty_dirs:
                path.mkdir(parents=True, exist_ok=True)
        except StoreError as exc:
            raise JobError(_one_line(exc)) from None
        except OSError as exc:
            raise JobError(f"cannot write {exc.filename}: {exc.strerror}") from None
        return [path for _, path, _ in transfers]

    def _plan_download(self, key: str, local: Path) -> list[tuple[str, Path, int]]:
        """``(key, local file, size)`` for ``key`` as a file, or for every object under ``key/`` into the
        directory ``local``."""
        size = self.store.size(key)
        if size is not None:
            if local.is_dir():
                raise JobError(f"cannot download output to {local}: it is a directory (move it or use --output-dir)")
            return [(key, local, size)]
        prefix = key.rstrip("/") + "/"
        return [
            (info.key, local.joinpath(*info.key[len(prefix) :].split("/")), info.size)
            for info in self.store.list(prefix)
        ]

    def gc(self) -> GcReport:
        """Delete expired job data and blobs no live job references."""
        from airflow_provider_dsjobs.jobs.gc import collect_garbage

        try:
            result = collect_garbage(self.jobs)
        except StoreError as exc:
            raise JobError(_one_line(exc)) from None
        return GcReport(
            jobs_cleared=list(getattr(result, "jobs_cleared", [])),
            blobs_deleted=int(getattr(result, "blobs_deleted", 0)),
            bytes_freed=int(getattr(result, "bytes_freed", 0)),
        )

    # -- fork ------------------------------------------------------------------------------------------------

    def fork(
        self,
        job_id: str,
        *,
        args: Mapping[str, str] | None = None,
        vars: Mapping[str, str] | None = None,
        env_vars: Mapping[str, str] | None = None,
        name: str | None = None,
        desc: str | None = None,
        cloud_instance_types: tuple[str, ...] | None = None,
        labels: Mapping[str, str] | None = None,
        notify: Notify | None = None,
    ) -> JobRecord:
        """Re-run job ``job_id`` from its stored config with overrides (DataSphere's ``fork``)."""
        source = self._load(job_id)
        if source.data_cleared:
            raise JobError("fork is unavailable - source job data is cleared")
        if not source.raw_config:
            raise JobError(f"job {job_id} has no stored config to fork")
        from airflow_provider_dsjobs.config import ConfigError, load_config_text
        from airflow_provider_dsjobs.config.overrides import apply_overrides

        base_dir = Path(source.base_dir or ".")
        try:
            config = load_config_text(source.raw_config, base_dir=base_dir, source=f"job {job_id} config")
            declared_inputs = {e.var for e in config.inputs if e.var}
            declared_outputs = {e.var for e in config.outputs if e.var}
            input_vars = {k: v for k, v in (vars or {}).items() if k in declared_inputs}
            output_vars = {k: v for k, v in (vars or {}).items() if k not in declared_inputs}
            unknown = [k for k in output_vars if k not in declared_outputs]
            if unknown:
                raise JobError(f"No variable path in source job: {unknown[0]}")
            config = apply_overrides(
                config,
                args=dict(args or {}),
                input_vars=input_vars,
                output_vars=output_vars,
                env_vars=None if env_vars is None else dict(env_vars),
                cloud_instance_types=cloud_instance_types,
                name=name,
                desc=desc,
            )
        except ConfigError as exc:
            raise JobError(str(exc)) from None
        return self.submit(config, labels=labels, notify=notify, parent_job_id=job_id)


# -- helpers ---------------------------------------------------------------------------------------------------


def _plan_to_doc(plan: JobPlan) -> dict[str, Any]:
    """What a finalizer in another process needs from the plan; no env values, no secrets."""
    return {
        "job_id": plan.job_id,
        "image": plan.image,
        "outputs": [
            {"path": o.path, "var": o.var, "container_path": o.container_path, "local_path": str(o.local_path)}
            for o in plan.outputs
        ],
        "output_datasets": [
            {
                "name": d.name,
                "var": d.var,
                "container_path": d.container_path,
                "description": d.description,
                "labels": dict(d.labels),
                "size_bytes": d.size_bytes,
            }
            for d in plan.output_datasets
        ],
        "graceful_signal": plan.graceful_signal,
        "graceful_signal_number": SIGNAL_NUMBERS.get(plan.graceful_signal or "", None),
        "graceful_timeout": plan.graceful_timeout,
        "python_failed_marker": plan.python.failed_marker if plan.python else None,
        "python_failed_exit_code": plan.python.failed_exit_code if plan.python else None,
        "labels": {k: v for k, v in plan.labels.items() if k not in (LABEL_JOB_ID, LABEL_PROJECT)},
    }


class _StripFirst:
    """An OutputWriter proxy that drops the first path component (the exported directory's own name)."""

    def __init__(self, writer: Any) -> None:
        self._writer = writer

    def put_stream(self, relpath: str, stream: BinaryIO) -> tuple[str, int]:
        _, _, rest = relpath.partition("/")
        result: tuple[str, int] = self._writer.put_stream(rest or relpath, stream)
        return result


def _opener(source: Any, sha: str, size: int | None = None) -> Callable[[], BinaryIO]:
    def open_blob() -> BinaryIO:
        result: BinaryIO = source.open(sha, size)
        return result

    return open_blob


def _bytes_opener(content: bytes) -> Callable[[], BinaryIO]:
    return lambda: io.BytesIO(content)


def _store_opener(store: ObjectStore, key: str) -> Callable[[], BinaryIO]:
    return lambda: store.open_read(key)


def _guard(pairs: Iterable[tuple[str, str]]) -> Iterator[tuple[str, str]]:
    """Re-raise store/engine errors met while iterating as ``JobError``."""
    from airflow_provider_dsjobs.runtime.errors import RuntimeFailure

    try:
        yield from pairs
    except (StoreError, RuntimeFailure) as exc:
        raise JobError(_one_line(exc)) from None


def _s3_mount_entries(
    settings: Settings, url: str, container_path: str, parents: Callable[[str], Iterator[Any]]
) -> Iterator[Any]:
    """Tar entries for every object under ``s3://bucket/prefix`` (capped at ``S3_MOUNT_MAX_BYTES``), read with the
    store's S3 settings; the credentials stay on this side."""
    import boto3

    from airflow_provider_dsjobs.runtime.tarstream import TarFile

    bucket, _, prefix = url[len("s3://") :].partition("/")
    prefix = prefix.strip("/")
    client = boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint_url or os.environ.get("DSJOBS_S3_ENDPOINT_URL"),
        region_name=settings.s3_region,
        aws_access_key_id=settings.aws_access_key_id,
        aws_secret_access_key=settings.aws_secret_access_key,
        aws_session_token=settings.aws_session_token,
    )
    total = 0
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix + "/" if prefix else ""):
        for obj in page.get("Contents", []):
            key = str(obj["Key"])
            rel = key[len(prefix) + 1 :] if prefix else key
            if not rel or rel.endswith("/"):
                continue
            size = int(obj["Size"])
            total += size
            if total > S3_MOUNT_MAX_BYTES:
                raise JobError(f"s3-mount {url} holds more than {S3_MOUNT_MAX_BYTES >> 30} GiB; it cannot be copied in")
            full = posixpath.join(container_path, rel)
            yield from parents(full)

            def open_obj(k: str = key) -> BinaryIO:
                body: BinaryIO = client.get_object(Bucket=bucket, Key=k)["Body"]
                return body

            yield TarFile(full.lstrip("/"), size=size, opener=open_obj, mode=0o444)
