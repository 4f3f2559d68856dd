"""The job service: one run of a config, end to end (DESIGN.md "One run, end to end").

This is the only API the CLI and the Airflow layer use to run, watch, cancel and inspect jobs.
Every method is safe to call from any process that has the same ``Settings``: state lives in the job
record in the store and in the container's labels on the engine, never in this object. ``JobService``
orchestrates the lifecycle — status changes, saving the record, failure handling — and leaves each step's
work to the module named below.

Lifecycle and where each step lives:

1. **Plan** (``jobs/plan.py``): pure; a bad config, a missing input, env var, secret or s3-mount raises
   ``JobError`` (``jobs/errors.py``) before anything is stored.
2. **Stage in** (``jobs/stage_in.py``): datasets used by ID are checked; inputs (and Python local modules) go
   through the content-addressed cache; only missing blobs are uploaded. The record (CREATING) is written, with
   ``inputs`` = ``{path, var, kind, sha256, size}``, and a small ``plan.json`` next to it (``jobs/plan_doc.py``:
   output placements, output datasets, graceful shutdown, the pyenv marker: what a finalizer in another process
   needs; no env values, no secrets).
3. **Launch**: PREPARING; the image and volumes are ensured and the instance type chosen
   (``jobs/launch.py``), the container created (labels ``dsjobs.job_id``, ``dsjobs.project`` + the caller's;
   name ``dsjobs-<job_id>``), the inputs delivered with one lazily built tar stream through ``put_archive``
   (``stage_in.archive_entries``; no bind mounts: works with a remote engine), then started: EXECUTING.
   Any failure after the record exists leaves it ERROR with ``status_details`` and removes the container.
4. **Watch** (``wait``): the container's output goes live to the ``LogSink``.
5. **Finalize** (``finalize``; idempotent; the work is ``jobs/stage_out.py``): UPLOADING_OUTPUT; the complete
   log is read again from the engine into files spooled on disk and stored (``logs/stdout.txt``, ``stderr.txt``,
   ``log.txt``) — so the stored log is whole even when nobody watched; each declared output is exported (files
   and directories, streamed) into the store, a missing one is listed in ``record.missing_outputs`` and in the
   log; on exit 0 output datasets are published; read-write s3-mounts are synced back to their buckets
   whatever the outcome (``jobs/s3_sync.py``); the output manifest is written **last**; then SUCCESS / ERROR /
   CANCELLED is saved and the container removed. Two finalizers write the same keys with the same bytes
   (dataset IDs are derived from the job id and dataset name), the terminal record is saved before the
   container is removed, and a finalizer that loses the container half-way re-reads the record and returns the
   terminal one: nothing is corrupted.

Every change of a stored record goes through ``JobStore.update`` (compare-and-swap, ``jobs/store.py``): a status
change through ``_move``, other fields through ``_put_fields``. Each re-reads the record and decides on what is
stored now: a target status the transition table (``JobStatus.can_become``) does not allow from the stored one
means another process moved the job on (cancelled or ended it) — "lost the race" — so nothing is written and the
caller gets the stored record to decide again. Exactly one finalizer or canceller ends a job; the terminal record
carries that writer's outcome whole (status, reason, outputs, logs), never a mix.

Cancel: CANCELLING is saved; with ``graceful`` and a ``graceful-shutdown`` section the signal is sent and the
container gets its timeout before SIGKILL, otherwise it is killed at once; then finalize (outputs and logs are
collected) ends it CANCELLED. A cancel that arrives while the job is still being submitted ends it CANCELLED
before it starts.

Afterwards: ``download_files`` (``jobs/downloads.py``) brings outputs and logs to local files; ``fork``
(``jobs/fork.py``) re-runs a job from its stored config, input blobs and Python environment, with overrides;
``gc`` (``jobs/gc.py``) deletes expired data.
Browsing (the Airflow plugin's Jobs page) is read-only: ``read``, ``query_jobs`` (``jobs/query.py``),
``output_files``/``open_output`` (``jobs/output_files.py``), ``logs(follow=True)``, ``container_state`` and
``read_new_logs`` (one bounded look at a running job's new output) change nothing.

Store layout of one job (``JobStore``, ``jobs/store.py``): ``record.json``, ``plan.json``, ``outputs/``
(``work/<relpath>`` for var-less outputs, ``vars/<VAR>/<name>`` for var outputs, ``manifest.json`` last),
``logs/``. Output datasets go to ``projects/<p>/datasets/<id>/`` with their own ``manifest.json``; a dataset
used by ID is every object under that prefix except the manifest.

``working-storage`` is granted at launch (``jobs/working_storage.py``): the engine's free space is checked, and
the container's writable layer capped where the storage driver can; ``record.working_storage`` keeps what the job
got. ``spark`` gives the job its connector's Spark Connect endpoint (``resources/spark.py``). Links,
FIFOs and devices inside output directories are skipped (and listed in the log); an output that is a symbolic
link is missing. A lost engine raises ``EngineLost`` and leaves the record as it was: ``get``/``wait`` settle the
job once the engine answers again.

Many machines may share one store, each with its own engine: the record names the engine that runs the job
(``record.engine``, set at launch) and only a service connected to that engine decides about the job's container
(``jobs/ownership.py``). Any other asks that engine through its engine map (``get``, ``refresh``, ``wait``,
``finalize``, ``cancel``, ``logs`` run there), or, when it cannot reach it, raises ``EngineElsewhere`` (``get``
returns the stored record, ``logs`` the stored log) and changes nothing.
"""

from __future__ import annotations

import copy
import itertools
import os
import tarfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext, suppress
from dataclasses import replace
from datetime import timedelta
from itertools import islice
from pathlib import Path
from typing import BinaryIO, TextIO

from airflow_provider_dsjobs.config.model import JobConfig
from airflow_provider_dsjobs.config.overrides import Overrides
from airflow_provider_dsjobs.config.redact import is_sensitive_name, redacted_config_json, redacted_raw_config
from airflow_provider_dsjobs.documents.mount_sync import SyncMount
from airflow_provider_dsjobs.documents.plan_doc import PlanDoc
from airflow_provider_dsjobs.documents.record import DEFAULT_DATA_TTL, JobRecord, JobStatus, day, utcnow
from airflow_provider_dsjobs.jobs import logs as joblogs
from airflow_provider_dsjobs.jobs.downloads import download_files
from airflow_provider_dsjobs.jobs.env_build import build_environment
from airflow_provider_dsjobs.jobs.errors import (
    EngineElsewhere,
    EngineLost,
    InfrastructureError,
    JobConfigError,
    JobError,
    into_job_error,
    iter_into_job_error,
    one_line,
)
from airflow_provider_dsjobs.jobs.fork import fork_config
from airflow_provider_dsjobs.jobs.gc import CLEAR_GRACE, GcReport, clear_job, collect_garbage, maybe_collect_garbage
from airflow_provider_dsjobs.jobs.launch import prepare_container, say_choice, start_with_fallback
from airflow_provider_dsjobs.jobs.lease import LaunchLease, abandoned_reason
from airflow_provider_dsjobs.jobs.output_files import OutputFile, list_output_files, open_output_file
from airflow_provider_dsjobs.jobs.ownership import Ownership
from airflow_provider_dsjobs.jobs.plan import (
    ConnectorLookup,
    JobPlan,
    PlanError,
    Reuse,
    plan_job,
    resolve_s3_source,
    s3_mount_env_name,
)
from airflow_provider_dsjobs.jobs.plan_doc import read_plan_doc, write_plan_doc
from airflow_provider_dsjobs.jobs.progress import Progress, ProgressKeeper, read_progress
from airflow_provider_dsjobs.jobs.query import MAX_PAGE, JobPage, JobQuery, page_jobs
from airflow_provider_dsjobs.jobs.stage_in import Staged, archive_entries, check_datasets, stage_inputs
from airflow_provider_dsjobs.jobs.stage_out import recover_from_manifest, stage_out
from airflow_provider_dsjobs.jobs.stats import STATS_FILE, StatsPoint, StatsSampler, read_stats
from airflow_provider_dsjobs.jobs.store import Change, JobNotFound, JobStore, check_job_id
from airflow_provider_dsjobs.jobs.working_storage import LABEL_WORKING_STORAGE, grant_working_storage
from airflow_provider_dsjobs.resources.datasets import read_dataset_manifest
from airflow_provider_dsjobs.resources.images import ImageRegistry
from airflow_provider_dsjobs.resources.s3_connectors import ConnectorRegistry, S3Source
from airflow_provider_dsjobs.resources.spark import SparkRegistry
from airflow_provider_dsjobs.runtime.base import ContainerRuntime
from airflow_provider_dsjobs.runtime.containers import ContainerSpec, ContainerState, Runtime
from airflow_provider_dsjobs.runtime.errors import ContainerNotFound, EngineUnreachable, RuntimeFailure
from airflow_provider_dsjobs.runtime.labels import LABEL_JOB_ID, LABEL_PROJECT
from airflow_provider_dsjobs.runtime.log_stream import LogCursor
from airflow_provider_dsjobs.runtime.tarstream import tar_stream
from airflow_provider_dsjobs.settings import Settings
from airflow_provider_dsjobs.storage.base import ObjectStore, StoreError
from airflow_provider_dsjobs.storage.hash_cache import hash_memo_for
from airflow_provider_dsjobs.storage.open import open_store

__all__ = [
    "EngineElsewhere",
    "EngineLost",
    "GcReport",
    "InfrastructureError",
    "JobConfigError",
    "JobError",
    "JobService",
    "LogSink",
    "Notify",
]

#: Receives the job's output line by line: ``(stream, line)`` with stream ``"stdout"`` or ``"stderr"``
#: (and ``"system"`` for the service's own lines: staging summary, stored-log markers).
LogSink = Callable[[str, str], None]
#: Receives the service's progress messages for a human ("uploaded 0 B (all 3 inputs cached)").
Notify = Callable[[str], None]

#: The one reason a job cancelled before its container started ends with.
CANCELLED_BEFORE_START = "cancelled before the job started"


def _noop(_: str) -> None:
    return None


class JobService:
    """Runs configs as containers with inputs and outputs staged through the store.

    ``runtime`` (a ``runtime.base.ContainerRuntime``) and ``store`` are what the service works on; by default it
    connects to the Docker engine and opens the store that ``settings`` name, each on first use (listing jobs
    needs no engine). A runtime passed in belongs to the caller: ``close`` leaves it open."""

    def __init__(
        self, settings: Settings, *, runtime: ContainerRuntime | None = None, store: ObjectStore | None = None
    ) -> None:
        self.settings = settings
        self._store = store
        self._jobs: JobStore | None = None
        self._runtime = runtime
        self._owns_runtime = runtime is None
        self._lock = threading.Lock()
        #: Who decides about a job's container (``jobs/ownership.py``), and the services on other engines it reached.
        self.ownership = Ownership(settings, lambda: self.runtime)
        self._on_engine: dict[str, JobService] = {}

    # -- wiring ----------------------------------------------------------------------------------------------

    @property
    def project(self) -> str:
        return self.settings.project

    @property
    def store(self) -> ObjectStore:
        if self._store is None:
            with into_job_error():
                self._store = open_store(self.settings)
        return self._store

    @property
    def jobs(self) -> JobStore:
        if self._jobs is None:
            self._jobs = JobStore(self.store, self.project)
        return self._jobs

    @property
    def runtime(self) -> ContainerRuntime:
        with self._lock:
            if self._runtime is None:
                with into_job_error(RuntimeFailure):
                    self._runtime = Runtime.connect(self.settings)
            return self._runtime

    def close(self) -> None:
        self._on_engine.clear()
        self.ownership.close()
        if self._owns_runtime and self._runtime is not None:
            with suppress(OSError):
                self._runtime.close()
            self._runtime = None

    def _load(self, job_id: str) -> JobRecord:
        check_job_id(job_id)  # an id from outside (CLI, API, page): matched in full, its own one-line error
        try:
            return self.jobs.load(job_id)
        except JobNotFound:
            # Still a JobError to every caller; JobNotFound lets a web API answer 404.
            raise JobNotFound(f"job {job_id} not found in project {self.project}") from None
        except StoreError as exc:
            raise JobError(one_line(exc)) from None

    def _elsewhere(self, record: JobRecord) -> JobService | None:
        """None when this reader decides about the job's container (it is on the job's engine, or the job has no
        container yet); else a service on the job's engine, reached through the engine map (the same store). Raises
        ``EngineElsewhere`` when that engine cannot be reached from here: nothing is decided or changed then."""
        if not record.container_id or self.ownership.is_own(record):
            return None
        runtime = self.ownership.owner_runtime(record)
        assert record.engine is not None  # owner_runtime refuses a record without one
        service = self._on_engine.get(record.engine.id)
        if service is None:
            service = JobService(replace(self.settings, engine_name=None), runtime=runtime, store=self.store)
            service.ownership.assume(record.engine)
            self._on_engine[record.engine.id] = service
        return service

    def runtime_of(self, record: JobRecord) -> ContainerRuntime:
        """The runtime on the engine that runs ``record``'s job: this reader's own, or one reached through the
        engine map; ``EngineElsewhere`` when that engine is out of reach."""
        elsewhere = self._elsewhere(record)
        return self.runtime if elsewhere is None else elsewhere.runtime

    def _update(self, job_id: str, change: Change) -> JobRecord:
        try:
            return self.jobs.update(job_id, change)
        except JobError:
            raise
        except StoreError as exc:
            raise JobError(one_line(exc)) from None

    def _put_fields(self, record: JobRecord, *names: str) -> JobRecord:
        """Store ``record``'s ``names`` fields (what this process learnt: inputs, container, ...) into the record
        as it is stored now, whatever its status; ``record`` becomes the stored record."""
        values = {name: copy.deepcopy(getattr(record, name)) for name in names}

        def change(current: JobRecord) -> JobRecord:
            for name, value in values.items():
                setattr(current, name, value)
            return current

        return _adopt(record, self._update(record.id, change))

    def _plan_doc(self, job_id: str) -> PlanDoc:
        with into_job_error():
            return read_plan_doc(self.jobs, job_id)

    # -- transitions: every status change of a job goes through here ------------------------------------------

    def _move(
        self,
        record: JobRecord,
        status: JobStatus,
        reason: str | None = None,
        *,
        by: str,
        discard: bool = False,
        fields: tuple[str, ...] = (),
        expect: JobStatus | None = None,
    ) -> JobRecord:
        """Move the stored record to ``status`` (with ``reason`` and which step observed it, ``by``), together
        with ``record``'s ``fields`` (an outcome: outputs, logs, return code), in one ``JobStore.update``.

        Decided on the record as stored now: if the table does not allow ``status`` from its status (or, with
        ``expect``, its status is no longer ``expect``) another process moved the job on meanwhile and nothing is
        written; staying in ``status`` writes only ``fields``. ``record`` becomes the stored record either way and
        is returned. With ``discard`` the job's container is removed once the job is over (also when the write
        fails: the record is what counts)."""
        values = {name: copy.deepcopy(getattr(record, name)) for name in fields}

        def change(current: JobRecord) -> JobRecord | None:
            if (expect is not None and current.status != expect) or not current.status.can_become(status):
                return None  # lost the race: the caller decides again on what is stored
            if current.status == status and not values:
                return None
            for name, value in values.items():
                setattr(current, name, value)
            if current.status != status:
                current.set_status(status, reason, by=by)
            return current

        try:
            latest = self._update(record.id, change)
        except BaseException:
            if discard:
                self._discard(record)
            raise
        container = record.container_id
        _adopt(record, latest)
        if discard and latest.status.terminal:
            record.container_id = record.container_id or container
            self._discard(record)
        return record

    def _discard(self, record: JobRecord) -> None:
        """Remove the job's container, if it got one on an engine this service reached; an engine failing now
        leaves it to the next finalizer or ``gc``."""
        if record.container_id and self._runtime is not None:
            with suppress(RuntimeFailure):
                self._runtime.remove(record.container_id, force=True)

    def _cancel_unstarted(self, record: JobRecord, by: str, expect: JobStatus | None = None) -> JobRecord:
        """A job cancelled before its container started: CANCELLED, the container (if any) removed."""
        return self._move(record, JobStatus.CANCELLED, CANCELLED_BEFORE_START, by=by, discard=True, expect=expect)

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
        on_created: Callable[[JobRecord], None] | None = None,
        reuse: Reuse | None = None,
    ) -> JobRecord:
        """Plan, stage inputs in, create and start the container. Returns as soon as the job runs
        (status EXECUTING); the record is already in the store, so ``record.id`` can be persisted.
        ``labels`` are added to the container and the record (the Airflow layer passes dag/task/run ids).
        ``notify`` receives progress lines for a human; ``environ`` replaces ``os.environ`` for ``- NAME`` vars;
        ``progress_stream`` shows an upload progress bar there (a redrawn bar on a terminal, lines otherwise).
        ``on_created`` is called with the record as soon as it is stored (CREATING), before the long phases
        (input upload, image pull), so a caller can remember the id and cancel the job while it is submitted.
        ``reuse`` (``fork``) names inputs already stored. A config that cannot be planned raises
        ``JobConfigError`` before anything is stored; a failure later leaves the record ERROR with the reason in
        ``status_details`` (and raises ``JobError`` with it)."""
        say: Notify = notify or ((lambda message: log("system", message)) if log is not None else _noop)
        with into_job_error():
            job_id = self.jobs.new_job_id()
        try:
            plan = plan_job(
                config,
                self.settings,
                job_id=job_id,
                project=self.project,
                labels=labels,
                environ=environ,
                image_lookup=ImageRegistry(self.store, self.project).resolve,
                connector_lookup=self._connectors(),
                spark_lookup=SparkRegistry(self.store, self.project).get,
                reuse=reuse,
            )
        except PlanError as exc:
            raise JobConfigError(str(exc)) from None
        check_datasets(self.jobs, plan)
        for note in _unsupported_notes(config):
            say(note)
        record = self._new_record(config, plan, parent_job_id)
        return self.submit_plan(plan, record, say=say, progress_stream=progress_stream, on_created=on_created)

    def new_job_id(self) -> str:
        with into_job_error():
            return self.jobs.new_job_id()

    def submit_plan(
        self,
        plan: JobPlan,
        record: JobRecord,
        *,
        say: Notify,
        progress_stream: TextIO | None = None,
        on_created: Callable[[JobRecord], None] | None = None,
    ) -> JobRecord:
        """Store ``record`` (CREATING) and launch ``plan``: the part of ``submit`` after planning, shared with
        ML Lab jobs (``lab/``), which plan from an image instead of a config. Same guarantees as ``submit``."""
        job_id = record.id
        lease = LaunchLease(self.jobs, job_id)
        lease.beat()  # before the record: nobody sees the job without a fresh lease
        record.set_status(JobStatus.CREATING, by="submit")
        with into_job_error():
            self.jobs.create(record)
        say(f"created job {job_id}")
        try:
            if on_created is not None:
                on_created(record)
            with lease:
                self.runtime  # noqa: B018 - connect first: an unreachable engine fails before any upload
                write_plan_doc(self.jobs, plan)
                memo = hash_memo_for(self.settings)  # persistent: a re-run in a new process skips re-hashing
                limits = (self.settings.max_input_file_size, self.settings.max_job_input_size)
                staged = stage_inputs(self.jobs, plan, say, progress_stream, memo, limits)
                record.inputs, record.data_size_bytes = staged.refs, staged.total_size
                if self._ended_meanwhile(record):
                    return record
                self._put_fields(record, "inputs", "data_size_bytes")
                staged.stager.release()  # the record now references the inputs: gc keeps them
                self._launch(plan, record, staged.delivery, say)
            self._collect_garbage_now_and_then(say)
        except JobError as exc:
            with suppress(JobError):
                if self._ended_meanwhile(record):  # the failure came from a cancel removing the container
                    return record
            self._fail(record, str(exc))
            raise
        except KeyboardInterrupt:
            self._fail(record, "interrupted while the job was being submitted", JobStatus.CANCELLED)
            raise
        except Exception as exc:
            self._fail(record, one_line(exc))
            raise JobError(one_line(exc)) from None
        return record

    def _collect_garbage_now_and_then(self, say: Notify) -> None:
        """Expired data goes without anyone running ``gc``: once per ``auto_gc_interval`` a submit (its job
        already running) spends up to ``auto_gc_budget`` seconds on it. A failure here never fails the job."""
        interval = self.settings.auto_gc_interval
        if interval <= 0:
            return
        try:
            report = maybe_collect_garbage(self.jobs, timedelta(seconds=interval), budget=self.settings.auto_gc_budget)
        except (StoreError, OSError) as exc:
            say(f"warning: deleting expired job data failed: {one_line(exc)} (dsjobs gc retries)")
            return
        if report is not None and (report.jobs_cleared or report.blobs_deleted):
            say(
                f"deleted expired data: {len(report.jobs_cleared)} job(s), {report.blobs_deleted} cached input(s)"
                + ("" if report.complete else " (more left for the next run)")
            )

    def _new_record(self, config: JobConfig, plan: JobPlan, parent_job_id: str | None) -> JobRecord:
        """The record of a job about to be launched (not saved yet): redacted config, labels, the data TTL."""
        now = utcnow()
        return JobRecord(
            id=plan.job_id,
            project=self.project,
            name=config.name,
            desc=config.desc,
            created_at=now,
            data_expires_at=now + DEFAULT_DATA_TTL,
            config=redacted_config_json(config),
            raw_config=redacted_raw_config(config),
            base_dir=str(config.base_dir),
            image=plan.image,
            labels=dict(plan.labels),
            parent_job_id=parent_job_id,
        )

    def _fail(self, record: JobRecord, reason: str, status: JobStatus = JobStatus.ERROR) -> None:
        """End a job that could not be launched (ERROR, or CANCELLED when interrupted) and remove whatever
        container it got; a store that fails now leaves the record as it was."""
        with suppress(JobError):
            self._move(record, status, reason, by="submit", discard=True)

    def _launch(self, plan: JobPlan, record: JobRecord, staged: Staged, say: Notify) -> None:
        runtime = self.runtime
        record.engine = self.ownership.mine()  # saved with PREPARING, before any container exists
        self._move(record, JobStatus.PREPARING, by="submit", fields=("engine",))
        ended: list[bool] = []

        def start(spec: ContainerSpec) -> None:
            """Create the container with ``spec``'s limits, deliver the inputs, start it (unless cancelled)."""
            assert spec.resources is not None
            record.instance_type = spec.resources.name or None
            container_id = runtime.create(spec)
            record.container_id, record.container_name = container_id, spec.name
            self._put_fields(record, "instance_type", "container_id", "container_name", "working_storage")
            sized = f" ({spec.resources.name})" if spec.resources.name else ""
            say(f"container {spec.name} created from {plan.image}{sized}")
            built = build_environment(
                runtime,
                plan,
                container_id,
                spec.network,
                lambda: archive_entries(self.jobs, self.settings, plan, staged),
                say,
            )
            entries = itertools.chain(archive_entries(self.jobs, self.settings, plan, staged), built)
            runtime.put_archive(container_id, "/", tar_stream(entries))
            if self._ended_meanwhile(record):
                ended.append(True)
                return
            runtime.start(container_id)

        def discard() -> None:
            """Before the next instance type: the container the engine would not start goes."""
            self._discard(record)
            record.container_id = record.container_name = None

        with into_job_error(RuntimeFailure, StoreError):
            spec, placement = prepare_container(
                runtime,
                plan,
                self.settings.docker_network,
                say,
                self.settings.image_pull_policy,
                pids_limit=self.settings.pids_limit,
            )
            if plan.working_storage_bytes:
                spec = self._grant_working_storage(plan, record, spec, say)
            say_choice(plan, placement, placement.choices[0], say)
            start_with_fallback(spec, placement, start, discard, say)
        if not ended:
            self._move(record, JobStatus.EXECUTING, by="submit")

    def _grant_working_storage(
        self, plan: JobPlan, record: JobRecord, spec: ContainerSpec, say: Notify
    ) -> ContainerSpec:
        """Reserve (or check) the job's working storage on the engine (``jobs/working_storage.py``); the record
        keeps what was granted (saved with the container id). Too little space raises ``JobError``."""
        grant, storage_opt = grant_working_storage(
            self.runtime,
            plan.image,
            plan.working_storage_bytes or 0,
            {LABEL_PROJECT: plan.project},
            self.settings.working_storage_check,
            say,
        )
        record.working_storage = grant
        say(grant.describe())
        labels = {**spec.labels, LABEL_WORKING_STORAGE: str(grant.requested_bytes)}  # what later jobs count as held
        return replace(spec, storage_opt=storage_opt, labels=labels)

    def _ended_meanwhile(self, record: JobRecord) -> bool:
        """Whether someone cancelled the job while it was being submitted (it ends CANCELLED here), or ended it
        otherwise (taken as abandoned by a process that lost sight of this one: its ERROR stands). Either way
        ``record`` is updated in place and the container removed."""
        latest = self._load(record.id)
        if latest.status != JobStatus.CANCELLING and not latest.status.terminal:
            return False
        container = record.container_id
        _adopt(record, latest)
        record.container_id = record.container_id or container
        if latest.status in (JobStatus.CANCELLING, JobStatus.CANCELLED):
            self._cancel_unstarted(record, by="submit")
            record.container_id = record.container_id or container
        self._discard(record)
        return True

    def _settle_abandoned(self, record: JobRecord) -> JobRecord | None:
        """If the job has not started and its launcher is gone (``jobs.lease``), end it ERROR, remove its
        container and return the record; ``None`` while the launch may still be under way (or has started)."""
        if record.status not in (JobStatus.CREATING, JobStatus.PREPARING, JobStatus.CANCELLING):
            return None
        if record.status == JobStatus.CANCELLING and not self._launch_unfinished(record):
            return None  # a cancel of a started job: the container's state decides
        reason = abandoned_reason(self.jobs, record)
        if reason is None:
            return None
        if record.container_id:
            with into_job_error(RuntimeFailure):
                state = self.runtime.state(record.container_id)
            if state is not None and state.status != "created":
                return None  # started: the launcher died after start, the job runs (finalize settles it)
        judged = record.status  # ended only if still in the status judged abandoned (else it moved on meanwhile)
        if judged == JobStatus.CANCELLING:  # cancelled while its submitter was cut off (on_kill)
            settled = self._cancel_unstarted(record, by="lease", expect=judged)
        else:
            settled = self._move(record, JobStatus.ERROR, reason, by="lease", discard=True, expect=judged)
        return settled if settled.status.terminal else None

    def _launch_unfinished(self, record: JobRecord) -> bool:
        """Whether the job's container was never started (none yet, or only created)."""
        if not record.container_id:
            return True
        with into_job_error(RuntimeFailure):
            state = self.runtime.state(record.container_id)
        return state is None or state.status == "created"

    # -- watching --------------------------------------------------------------------------------------------

    def refresh(self, job_id: str) -> JobRecord:
        """The record with its status brought up to date from the engine, without staging out.

        Saves only one thing: a launch whose launcher died ends ERROR (``jobs.lease``). Otherwise nothing is
        saved, and a job whose container has exited (or is gone) but which is not finalized is *reported* as
        UPLOADING_OUTPUT — a status the store does not hold yet: the caller's cue to call ``finalize``.
        A job on another engine is asked there; ``EngineElsewhere`` when that engine cannot be reached."""
        record = self._load(job_id)
        if record.status.terminal:
            return record
        elsewhere = self._elsewhere(record)
        if elsewhere is not None:
            return elsewhere.refresh(job_id)
        settled = self._settle_abandoned(record)
        if settled is not None:
            return settled
        if not record.container_id:
            return record
        if not self._container_running(record):
            record.status = JobStatus.UPLOADING_OUTPUT  # reported only (see above): finalize saves the outcome
        return record

    def _container_running(self, record: JobRecord) -> bool | None:
        """True/False from the engine; None when the container is gone. A job cancelled without waiting
        (``request_cancel``) whose container outlives its graceful-shutdown timeout is killed here."""
        with into_job_error(RuntimeFailure):
            state = self.runtime.state(record.container_id or "")
            if state is not None and not state.finished and self._cancel_overdue(record):
                self.runtime.stop(record.container_id or "", signal=None)
                state = self.runtime.state(record.container_id or "")
        if state is None:
            return None
        return not state.finished

    def _cancel_overdue(self, record: JobRecord) -> bool:
        if record.status != JobStatus.CANCELLING:
            return False
        asked = next((h.at for h in reversed(record.history) if h.status == JobStatus.CANCELLING), None)
        if asked is None:
            return True
        grace = self._plan_doc(record.id).graceful_timeout or 0.0
        return (utcnow() - asked).total_seconds() > grace

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
        record = self._load(job_id)
        deadline = None if timeout is None else time.monotonic() + timeout
        # Still being launched by another process: wait for the container or a terminal status.
        while not record.container_id and not record.status.terminal:
            settled = self._settle_abandoned(record)
            if settled is not None:
                return settled
            if deadline is not None and time.monotonic() > deadline:
                raise JobError(f"job {job_id} is still being launched after {timeout} s")
            time.sleep(poll_interval)
            record = self._load(job_id)
        if record.status.terminal:
            return record
        elsewhere = self._elsewhere(record)
        if elsewhere is not None:
            return elsewhere.wait(job_id, log=log, poll_interval=poll_interval, timeout=timeout, since=since)
        keeper = ProgressKeeper(self.store, self.jobs.progress_key(job_id))
        with self._sampling(record):
            settled = self._follow(record, log, keeper, since, poll_interval, deadline, timeout)
        keeper.flush()
        if settled is not None:
            return settled
        return self.finalize(job_id)

    def _follow(
        self,
        record: JobRecord,
        log: LogSink | None,
        keeper: ProgressKeeper,
        since: float | None,
        poll_interval: float,
        deadline: float | None,
        timeout: float | None,
    ) -> JobRecord | None:
        """Stream the output to ``log`` (progress markers to ``keeper``) until the container stops; a record
        when the job was settled meanwhile (abandoned by its launcher), else None."""
        container_id = record.container_id or ""
        while True:
            if log is not None:
                try:
                    for stream, line in self.runtime.stream_logs(container_id, follow=True, since=since):
                        log(stream, line)
                        keeper.see(stream, line)
                except RuntimeFailure:
                    # Gone (finalized by someone else) or the stream broke: the state decides below, and the
                    # stored log is complete either way.
                    pass
                since = time.time()
            if not self._container_running(record):
                return None
            if record.status in (JobStatus.CREATING, JobStatus.PREPARING):  # not started when we last looked
                record = self._load(record.id)
                settled = self._settle_abandoned(record)
                if settled is not None:
                    return settled
            if deadline is not None and time.monotonic() > deadline:
                raise JobError(f"job {record.id} is still running after {timeout} s")
            time.sleep(poll_interval)

    def _sampling(self, record: JobRecord) -> AbstractContextManager[object]:
        """Container stats into ``logs/docker_stats.tsv`` while the job is followed (``jobs/stats.py``)."""
        interval, cid = self.settings.stats_interval, record.container_id
        if interval <= 0 or not cid:
            return nullcontext()
        key = self.jobs.log_key(record.id, STATS_FILE)
        return StatsSampler(lambda: self.runtime.stats(cid), self.store, key, interval)

    # -- finalize --------------------------------------------------------------------------------------------

    def finalize(self, job_id: str) -> JobRecord:
        """Stage outputs out, publish output datasets, write the manifest last, set the terminal status,
        remove the container. Idempotent: on a terminal job it changes nothing. On a job still running it
        changes nothing either and returns the current record."""
        record = self._load(job_id)
        if record.status.terminal or not record.container_id:
            return record
        elsewhere = self._elsewhere(record)
        if elsewhere is not None:
            return elsewhere.finalize(job_id)
        with into_job_error(RuntimeFailure):
            state = self.runtime.state(record.container_id)
        if state is None:
            return self._container_lost(job_id)
        if state.status == "created":
            # Created but never started: a launch still under way elsewhere (or one that died half-way).
            if record.status == JobStatus.CANCELLING:
                return self._cancel_unstarted(record, by="finalize")
            return self._settle_abandoned(record) or record
        if not state.finished:
            return record
        recovered = self._recover_committed(record)
        if recovered is not None:
            return recovered
        cancelled = record.status in (JobStatus.CANCELLING, JobStatus.CANCELLED)
        exit_code = state.exit_code if state.exit_code is not None else -1
        if not cancelled:
            record = self._move(record, JobStatus.UPLOADING_OUTPUT, by="finalize")
            if record.status.terminal:  # ended by another finalizer meanwhile
                return record
            cancelled = record.status == JobStatus.CANCELLING  # a cancel came in meanwhile
        try:
            doc = self._plan_doc(job_id)
            status, reason = stage_out(
                self.jobs, self.runtime, record, doc, exit_code, cancelled, state.oom_killed, self._sync_source
            )
        except ContainerNotFound:
            return self._container_lost(job_id)
        except EngineUnreachable as exc:  # the outputs are still in the container: a later finalize collects them
            raise EngineLost(one_line(exc)) from None
        except (RuntimeFailure, StoreError, OSError, tarfile.TarError) as exc:
            record.return_code = exit_code
            reason = f"collecting outputs failed: {one_line(exc)}"
            return self._move(record, JobStatus.ERROR, reason, by="finalize", discard=True, fields=("return_code",))
        # Another finalizer (or a canceller) may have ended it first: then its outcome stands, whole.
        return self._move(record, status, reason, by="finalize", discard=True, fields=OUTCOME_FIELDS)

    def _connectors(self) -> ConnectorLookup:
        """Where an s3-mount ID finds its connector: at submit, and again when a read-write one is synced back."""
        return ConnectorRegistry(self.store, self.project).get

    def _sync_source(self, mount: SyncMount) -> S3Source:
        """A read-write mount's bucket with its credentials, resolved as at submit (``jobs/s3_sync.py``)."""
        where = f"s3-mount {mount.id}"
        try:
            if mount.connector:
                return resolve_s3_source(mount.id, where, self.settings, {}, self._connectors())
            environ = {**os.environ, s3_mount_env_name(mount.id): mount.url}  # the endpoint, as at submit
            return resolve_s3_source(mount.id, where, self.settings, environ, None)
        except PlanError as exc:
            raise StoreError(str(exc)) from None

    def _recover_committed(self, record: JobRecord) -> JobRecord | None:
        """If the output manifest is already committed (another finalizer, or one that crashed right after the
        commit point), bring the record to the result it recorded; else None."""
        outcome = recover_from_manifest(self.jobs, record)
        if outcome is None:
            return None
        status, reason = outcome
        return self._move(record, status, reason, by="finalize", discard=True, fields=OUTCOME_FIELDS)

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
            return self._cancel_unstarted(record, by="finalize")
        reason = f"container {record.container_name or record.container_id} disappeared"
        return self._move(record, JobStatus.ERROR, reason, by="finalize")

    # -- inspection ------------------------------------------------------------------------------------------

    def get(self, job_id: str) -> JobRecord:
        """The record; a job whose container has exited is finalized first, and one whose launcher died before
        starting it is ended ERROR (``jobs.lease``). A job on another engine is asked there (``jobs/ownership.py``);
        when that engine cannot be reached from here the stored record comes back unchanged, its
        ``status_details`` (not saved) saying ``running on engine NAME (not reachable from here)``."""
        record = self._load(job_id)
        if record.status.terminal:
            return record
        try:
            elsewhere = self._elsewhere(record)
        except EngineElsewhere as exc:  # shown, not saved: the job's own engine decides
            record.status_details = str(exc)
            return record
        if elsewhere is not None:
            return elsewhere.get(job_id)
        settled = self._settle_abandoned(record)
        if settled is not None:
            return settled
        if not record.container_id:
            return record
        if self._container_running(record) is True:
            live = read_progress(self.store, self.jobs.progress_key(job_id))
            if live is not None:  # what a follower saw: shown, not saved (finalize records the last one)
                record.progress, record.progress_message = live.percent, live.message
            return record
        return self.finalize(job_id)

    def find(self, labels: Mapping[str, str]) -> JobRecord | None:
        """The newest job whose labels include ``labels`` (re-attaching after a worker crash)."""
        want = {str(k): str(v) for k, v in labels.items()}
        # A live container is the cheap answer (one engine query); else (no engine, no container, or a container
        # whose record is gone) the label index: only jobs carrying the rarest wanted label are read.
        with suppress(JobError, RuntimeFailure):
            for container in self.runtime.find({**want, LABEL_PROJECT: self.project}):
                job_id = container.labels.get(LABEL_JOB_ID)
                if job_id:
                    return self._load(job_id)
        with into_job_error():
            return self.jobs.find_by_labels(want)

    def list_jobs(self) -> list[JobRecord]:
        """Every job of the project, newest first: reads every record (``query_jobs`` reads one page)."""
        with into_job_error():
            records = list(self.jobs.list())
        return sorted(records, key=lambda r: r.created_at, reverse=True)

    def cancel(self, job_id: str, *, graceful: bool = True) -> JobRecord:
        """Cancel: with ``graceful`` and a ``graceful-shutdown`` section, send its signal and wait its timeout
        before killing; otherwise kill at once. The status ends CANCELLED and the container is removed."""
        record = self._load(job_id)
        if record.status.terminal:
            return record
        elsewhere = self._elsewhere(record)
        if elsewhere is not None:
            return elsewhere.cancel(job_id, graceful=graceful)
        if record.status != JobStatus.CANCELLING:
            record = self._move(record, JobStatus.CANCELLING, by="cancel")
            if record.status.terminal:  # ended meanwhile: nothing to cancel
                return record
        if not record.container_id:
            return self._cancel_unstarted(record, by="cancel")
        doc = self._plan_doc(job_id)
        signal = doc.graceful_signal if graceful else None
        try:
            if signal:
                self.runtime.stop(record.container_id, signal=signal, timeout=doc.graceful_timeout or 0.0)
            else:
                self.runtime.stop(record.container_id, signal=None)
        except ContainerNotFound:
            return self._container_lost(job_id)
        except RuntimeFailure as exc:
            raise JobError(one_line(exc)) from None
        return self.finalize(job_id)

    def request_cancel(self, job_id: str, *, graceful: bool = True) -> JobRecord:
        """Cancel without waiting (a SIGTERM handler's budget): save CANCELLING and send the graceful-shutdown
        signal (or SIGKILL). Whoever reads the job next finishes it: ``refresh``/``get``/``wait`` kill a container
        that outlives its graceful timeout, ``finalize`` stages out and ends it CANCELLED, a submit still under
        way ends it CANCELLED before it starts (or, if its process died, the next reader once its lease is stale)."""
        record = self._load(job_id)
        if record.status.terminal:
            return record
        elsewhere = self._elsewhere(record)
        if elsewhere is not None:
            return elsewhere.request_cancel(job_id, graceful=graceful)
        if record.status != JobStatus.CANCELLING:
            record = self._move(record, JobStatus.CANCELLING, by="request_cancel")
            if record.status.terminal:  # ended meanwhile
                return record
        if not record.container_id:
            return record
        signal = self._plan_doc(job_id).graceful_signal if graceful else None
        with suppress(ContainerNotFound), into_job_error(RuntimeFailure):
            self.runtime.signal(record.container_id, signal or "SIGKILL")
        return record

    def logs(self, job_id: str, *, tail: int | None = None, follow: bool = False) -> Iterator[tuple[str, str]]:
        """The job's output as ``(stream, line)`` pairs: live from the engine while it runs, from the store after.
        Stored logs also carry the service's own lines as stream ``"system"``. With ``follow`` a running job's
        output keeps coming until its container stops."""
        record = self._load(job_id)
        self._check_data(record)
        return joblogs.tail(iter_into_job_error(self._log_pairs(record, follow)), tail)

    @staticmethod
    def _check_data(record: JobRecord, what: str = "") -> None:
        """``JobError`` saying why a job's data cannot be read (cleared, or past its TTL even before gc ran)."""
        reason = record.data_unavailable()
        if reason is not None:
            raise JobError(f"{what}{reason}")

    def _log_pairs(self, record: JobRecord, follow: bool = False) -> Iterator[tuple[str, str]]:
        if not record.status.terminal and record.container_id:
            try:
                runtime = self.runtime_of(record)
            except EngineElsewhere:  # its engine is out of reach: what is stored (nothing before it ends)
                pass
            else:
                try:
                    yield from runtime.stream_logs(record.container_id, follow=follow)
                    return
                except ContainerNotFound:  # finalized meanwhile: read what was stored
                    record = self._load(record.id)
        if record.logs:
            yield from joblogs.read_combined(self.store, self.jobs.log_key(record.id, joblogs.COMBINED_FILE))

    def output_datasets(self, record: JobRecord) -> list[tuple[str, str, int | None]]:
        """``(id, name, size in bytes)`` of each output dataset the job published (the size from the dataset's
        manifest; None when that cannot be read)."""
        found: list[tuple[str, str, int | None]] = []
        for name, ds_id in record.output_datasets.items():
            try:
                manifest = read_dataset_manifest(self.jobs, ds_id)
            except StoreError:
                manifest = None
            found.append((ds_id, name, manifest.size if manifest is not None else None))
        return found

    # -- browsing: read-only, nothing is finalized or saved -------------------------------------------------

    def read(self, job_id: str) -> JobRecord:
        """The stored record as it is (unlike ``get``, a job whose container exited is not finalized here)."""
        return self._load(job_id)

    def progress_of(self, record: JobRecord) -> Progress | None:
        """The job's last progress: the record's once it ended (or when nobody follows it), else what its follower
        stored meanwhile. Reads only."""
        if not record.status.terminal:
            live = read_progress(self.store, self.jobs.progress_key(record.id))
            if live is not None:
                return live
        return Progress(record.progress, record.progress_message or "") if record.progress is not None else None

    def stats_points(self, job_id: str, max_points: int = 240) -> list[StatsPoint]:
        """The CPU and memory samples stored for the job (``logs/docker_stats.tsv``), thinned for a chart."""
        return read_stats(self.store, self.jobs.log_key(job_id, STATS_FILE), max_points)

    def container_state(self, record: JobRecord) -> ContainerState | None:
        """The engine's state of an active job's container, only looked at (None: no container, or a terminal
        job): a page shows "exited, not finalized yet" from it without finalizing anything."""
        if record.status.terminal or not record.container_id:
            return None
        with into_job_error(RuntimeFailure):
            return self.runtime.state(record.container_id)

    def read_new_logs(self, record: JobRecord, cursor: LogCursor, limit: int) -> tuple[list[tuple[str, str]], bool]:
        """One bounded look at a running job's output: at most ``limit`` lines the earlier calls with the same
        ``cursor`` did not return (one non-following engine read, bounded by the API timeout), and whether the
        container still runs. Changes nothing; an exited or vanished container gives what is left and False."""
        container_id = record.container_id or ""
        lines: list[tuple[str, str]] = []
        with into_job_error(RuntimeFailure):
            try:
                pairs = self.runtime.stream_logs(container_id, follow=False, cursor=cursor)
                try:
                    lines.extend(islice(pairs, limit))
                finally:
                    close = getattr(pairs, "close", None)
                    if callable(close):
                        close()  # a read stopped at ``limit``: its engine response is closed now
            except ContainerNotFound:
                return lines, False  # finalized and removed meanwhile: the stored log has it all
            state = self.runtime.state(container_id)
        return lines, state is not None and not state.finished

    def query_jobs(self, query: JobQuery, visible: Callable[[JobRecord], bool] | None = None) -> JobPage:
        """One page of the project's jobs, newest first, filtered by ``query`` (``jobs/query.py``) and, when
        given, by ``visible`` (what the caller may see), before the page is cut. Reads about a page of records,
        not every record (``page_jobs``)."""
        with into_job_error():
            return page_jobs(self.jobs, query, visible)

    def output_files(self, job_id: str) -> list[OutputFile]:
        """The job's stored output files (empty until its outputs are committed, or once its data is cleared)."""
        record = self._load(job_id)
        with into_job_error():
            return list_output_files(self.jobs, record)

    def open_output(self, job_id: str, path: str) -> tuple[OutputFile, BinaryIO]:
        """A streaming reader of one listed output file; the caller closes it. Expired or cleared data is refused
        with the date, as ``download_files`` does."""
        record = self._load(job_id)
        self._check_data(record)
        with into_job_error():
            return open_output_file(self.jobs, record, path)

    def set_data_ttl(self, job_id: str, days: int | None) -> JobRecord:
        """Keep the job's data ``days`` more days from now; ``None`` keeps it forever."""
        if days is not None and days < 1:
            raise JobError("TTL days should be positive")
        self._check_data(self._load(job_id), "cannot change the data TTL: ")
        when = None if days is None else utcnow() + timedelta(days=days)

        def change(record: JobRecord) -> JobRecord:
            self._check_data(record, "cannot change the data TTL: ")  # cleared or expired meanwhile
            record.data_expires_at = when
            return record

        return self._update(job_id, change)

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
        Nothing read from the store is trusted as a local path, and a download cut off half-way changes
        nothing locally (``jobs/downloads.py``). ``progress_stream`` shows a download progress bar there."""
        record = self._load(job_id)
        self._check_data(record, "nothing to download: ")
        return download_files(
            self.jobs,
            record,
            self._plan_doc(job_id),
            output_dir=output_dir,
            with_logs=with_logs,
            progress_stream=progress_stream,
        )

    def gc(self, *, dry_run: bool = False) -> GcReport:
        """Finish the jobs nobody follows whose container has exited (``settle_exited``), then delete expired job
        data and blobs no live job references; ``dry_run``: change nothing, only say what data would go."""
        settled = [] if dry_run else self.settle_exited()
        with into_job_error():
            report = collect_garbage(self.jobs, dry_run=dry_run)
        report.jobs_settled = settled
        return report

    def settle_exited(self, max_jobs: int = 5 * MAX_PAGE) -> list[str]:
        """Finish what no follower will: each active job (an ``execute --async`` job nobody attached to, a job
        whose task was cancelled from the page and never came back) whose container has exited, or whose
        launcher died, is finalized as ``dsjobs get`` does it — by its own engine: a job on another engine is
        asked there through the engine map, or left alone when that engine is out of reach. Reads only the active
        jobs (their index), at most ``max_jobs``; returns the ids that ended."""
        active = frozenset(s for s in JobStatus if not s.terminal)
        ids: list[str] = []
        while len(ids) < max_jobs:
            page = self.query_jobs(JobQuery(statuses=active, offset=len(ids), limit=MAX_PAGE))
            ids += [r.id for r in page.jobs]
            if len(page.jobs) < MAX_PAGE:
                break
        ended = []
        for job_id in ids:
            try:
                if self.get(job_id).status.terminal:
                    ended.append(job_id)
            except JobError:  # its engine is out of reach, or the store hiccuped: the next run tries again
                continue
        return ended

    def clear(self, job_id: str) -> GcReport:
        """Delete a finished job's stored data now (outputs, logs, and the cached inputs no other job uses); its
        record stays, marked cleared, and later reads say so. Clearing a cleared job changes nothing."""
        record = self._load(job_id)
        if not record.status.terminal:
            raise JobError(f"job {job_id} is still running ({record.status.value}): cancel it before clearing its data")
        if record.data_cleared:
            return GcReport()
        with into_job_error():
            return clear_job(self.jobs, record)

    def clear_all(self) -> GcReport:
        """The project's expired job data and every cached input no job with live data uses, now (``gc`` without
        the hour of grace: only inputs younger than a few minutes are kept, for submits in progress)."""
        with into_job_error():
            return collect_garbage(self.jobs, grace=CLEAR_GRACE)

    # -- fork ------------------------------------------------------------------------------------------------

    def fork(
        self,
        job_id: str,
        overrides: Overrides | None = None,
        *,
        labels: Mapping[str, str] | None = None,
        notify: Notify | None = None,
    ) -> JobRecord:
        """Re-run job ``job_id`` with ``overrides`` (DataSphere's ``fork``), from the inputs and Python environment
        it stored (``jobs/fork.py``): only an input an override replaces is read from this machine."""
        over = overrides or Overrides()
        source = self._load(job_id)
        self._check_data(source, "fork is unavailable: ")
        if source.data_expires_at is not None and notify is not None:
            notify(f"source job data expires on {day(source.data_expires_at)} (dsjobs set-data-ttl keeps it longer)")
        forked = fork_config(source, over, self._plan_doc(job_id).python, catalog=self.settings.instance_catalog)
        environ = {**os.environ, **over.environ} if over.env_vars else None
        return self.submit(
            forked.config, labels=labels, notify=notify, environ=environ, parent_job_id=job_id, reuse=forked.reuse
        )


#: What ``stage_out``/``recover_from_manifest`` fill in of a record: stored with its terminal status, in one write.
OUTCOME_FIELDS = (
    "outputs",
    "missing_outputs",
    "output_datasets",
    "s3_sync",
    "logs",
    "return_code",
    "data_size_bytes",
    "progress",
    "progress_message",
    "result",
)


def _adopt(record: JobRecord, stored: JobRecord) -> JobRecord:
    """Make the caller's ``record`` object the stored one (callers hold on to it across steps)."""
    vars(record).update(vars(copy.deepcopy(stored)))
    return record


def _unsupported_notes(config: JobConfig) -> Iterator[str]:
    """The lines that tell a submitter what of the config Docker ignores, or keeps out of the record."""
    secret_names = [v.name for v in config.env.vars if v.value and is_sensitive_name(v.name)]
    if secret_names:
        which = (
            f"env var {secret_names[0]} has" if len(secret_names) == 1 else f"env vars {', '.join(secret_names)} have"
        )
        yield (
            f"{which} a literal value that looks secret: the job record keeps '***' instead (a fork takes the "
            "value from the environment); prefer '- NAME' in config.yaml to copy it from there"
        )
