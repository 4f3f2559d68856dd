"""Submitting a job: plan (``jobs/plan.py``), store the record (CREATING), stage the inputs in
(``jobs/stage_in.py``), launch (``jobs/launch.py``: PREPARING, container created, inputs delivered, started:
EXECUTING). Each step returns what it did (``StagedInputs``, ``ContainerCreated``); only this module stores it,
through ``Transitions``. A cancel or another process ending the job meanwhile is seen before the container starts
(``ended_meanwhile``): the job then ends CANCELLED before it starts, or keeps the other process's ERROR."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TextIO

from airflow_provider_dsjobs.config.model import JobConfig
from airflow_provider_dsjobs.config.redact import is_sensitive_name, redacted_config_json, redacted_raw_config
from airflow_provider_dsjobs.documents.record import DEFAULT_DATA_TTL, JobRecord, JobStatus, utcnow
from airflow_provider_dsjobs.documents.storage_grant import StorageGrant
from airflow_provider_dsjobs.jobs.cache_use import note_job_use
from airflow_provider_dsjobs.jobs.context import JobContext
from airflow_provider_dsjobs.jobs.dataset_mounts import DatasetMounts
from airflow_provider_dsjobs.jobs.env_build import build_environment
from airflow_provider_dsjobs.jobs.errors import JobConfigError, JobError, into_job_error, one_line
from airflow_provider_dsjobs.jobs.gc import maybe_collect_garbage
from airflow_provider_dsjobs.jobs.launch import prepare_container, say_choice, start_with_fallback
from airflow_provider_dsjobs.jobs.lease import LaunchLease
from airflow_provider_dsjobs.jobs.plan import JobPlan, PlanError, Reuse, plan_job
from airflow_provider_dsjobs.jobs.plan_doc import write_plan_doc
from airflow_provider_dsjobs.jobs.s3_lazy_mounts import LazyMounts
from airflow_provider_dsjobs.jobs.s3_mount_caches import S3MountCaches
from airflow_provider_dsjobs.jobs.stage_in import StagedInputs, archive_entries, check_datasets, stage_inputs
from airflow_provider_dsjobs.jobs.transitions import Transitions, adopt
from airflow_provider_dsjobs.jobs.working_storage import LABEL_WORKING_STORAGE, grant_working_storage
from airflow_provider_dsjobs.resources.images import ImageRegistry
from airflow_provider_dsjobs.resources.s3_connectors import ConnectorRegistry
from airflow_provider_dsjobs.resources.spark import SparkRegistry
from airflow_provider_dsjobs.runtime.containers import ContainerSpec
from airflow_provider_dsjobs.runtime.errors import RuntimeFailure
from airflow_provider_dsjobs.runtime.labels import LABEL_PROJECT
from airflow_provider_dsjobs.runtime.tarstream import TarEntry, tar_stream
from airflow_provider_dsjobs.storage.base import StoreError
from airflow_provider_dsjobs.storage.hash_cache import hash_memo_for

#: Receives the service's progress messages for a human ("uploaded 0 B (all 3 inputs cached)").
Notify = Callable[[str], None]


@dataclass(frozen=True)
class ContainerCreated:
    """What the launch step made on the engine: stored at once, so a canceller or finalizer finds the container."""

    container_id: str
    container_name: str | None
    instance_type: str | None
    working_storage: StorageGrant | None

    def record_fields(self) -> dict[str, object]:
        return {
            "container_id": self.container_id,
            "container_name": self.container_name,
            "instance_type": self.instance_type,
            "working_storage": self.working_storage,
        }


class JobSubmitter:
    """Plans, stores and launches jobs on the engine of ``ctx``."""

    def __init__(self, ctx: JobContext, transitions: Transitions) -> None:
        self.ctx = ctx
        self.moves = transitions

    def plan(
        self,
        config: JobConfig,
        labels: Mapping[str, str] | None,
        environ: Mapping[str, str] | None,
        reuse: Reuse | None,
        secret_env_names: Collection[str] = (),
    ) -> JobPlan:
        """The job's plan (a new job id); a config that cannot be planned raises ``JobConfigError``."""
        ctx = self.ctx
        with into_job_error():
            job_id = ctx.jobs.new_job_id()
        try:
            plan = plan_job(
                config,
                ctx.settings,
                job_id=job_id,
                project=ctx.project,
                labels=labels,
                environ=environ,
                image_lookup=ImageRegistry(ctx.store, ctx.project).resolve,
                connector_lookup=ConnectorRegistry(ctx.store, ctx.project).get,
                spark_lookup=SparkRegistry(ctx.store, ctx.project).get,
                reuse=reuse,
                secret_env_names=secret_env_names,
            )
        except PlanError as exc:
            raise JobConfigError(str(exc)) from None
        check_datasets(ctx.jobs, plan)
        return plan

    def new_record(self, config: JobConfig, plan: JobPlan, parent_job_id: str | None) -> JobRecord:
        """The record of a job about to be launched (not saved yet): redacted config, labels, the data TTL."""
        now = utcnow()
        return JobRecord(
            id=plan.job_id,
            project=self.ctx.project,
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

    def submit_plan(
        self,
        plan: JobPlan,
        record: JobRecord,
        *,
        say: Notify,
        progress_stream: TextIO | None = None,
        on_created: Callable[[JobRecord], None] | None = None,
    ) -> JobRecord:
        """Store ``record`` (CREATING) and launch ``plan``; a failure leaves the record ERROR (CANCELLED when
        interrupted) with the reason and raises ``JobError``."""
        lease = LaunchLease(self.ctx.jobs, record.id)
        lease.beat()  # before the record: nobody sees the job without a fresh lease
        record.set_status(JobStatus.CREATING, by="submit")
        with into_job_error():
            self.ctx.jobs.create(record)
        say(f"created job {record.id}")
        try:
            if on_created is not None:
                on_created(record)
            with lease:
                self._stage_in_and_launch(plan, record, say, progress_stream)
            if not record.status.terminal:
                self._collect_garbage_now_and_then(say)
        except JobError as exc:
            with suppress(JobError):
                if self.ended_meanwhile(record):  # the failure came from a cancel removing the container
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

    def _stage_in_and_launch(self, plan: JobPlan, record: JobRecord, say: Notify, stream: TextIO | None) -> None:
        self.ctx.runtime  # noqa: B018 - connect first: an unreachable engine fails before any upload
        write_plan_doc(self.ctx.jobs, plan)
        staged = self._stage_in(plan, say, stream)
        if self.ended_meanwhile(record):
            return
        self.moves.put_fields(record, {"inputs": staged.refs, "data_size_bytes": staged.total_size})
        staged.stager.release()  # the record now references the inputs: gc keeps them
        self._launch(plan, record, staged, say)

    def _stage_in(self, plan: JobPlan, say: Notify, progress_stream: TextIO | None) -> StagedInputs:
        settings = self.ctx.settings
        memo = hash_memo_for(settings)  # persistent: a re-run in a new process skips re-hashing
        limits = (settings.max_input_file_size, settings.max_job_input_size)
        return stage_inputs(self.ctx.jobs, plan, say, progress_stream, memo, limits)

    def _collect_garbage_now_and_then(self, say: Notify) -> None:
        """Expired data goes without anyone running ``gc``: once per ``auto_gc_interval`` a submit (its job
        already running) spends up to ``auto_gc_budget`` seconds on it. A failure here never fails the job."""
        settings = self.ctx.settings
        if settings.auto_gc_interval <= 0:
            return
        interval = timedelta(seconds=settings.auto_gc_interval)
        try:
            report = maybe_collect_garbage(self.ctx.jobs, interval, budget=settings.auto_gc_budget)
        except (StoreError, OSError) as exc:
            say(f"warning: deleting expired job data failed: {one_line(exc)} (dsjobs gc retries)")
            return
        if report is not None and (report.jobs_cleared or report.blobs_deleted):
            say(
                f"deleted expired data: {len(report.jobs_cleared)} job(s), {report.blobs_deleted} cached input(s)"
                + ("" if report.complete else " (more left for the next run)")
            )

    def _fail(self, record: JobRecord, reason: str, status: JobStatus = JobStatus.ERROR) -> None:
        """End a job that could not be launched and remove whatever container it got; a store that fails now
        leaves the record as it was."""
        with suppress(JobError):
            self.moves.move(record, status, reason, by="submit", discard=True)

    def _launch(self, plan: JobPlan, record: JobRecord, staged: StagedInputs, say: Notify) -> None:
        """PREPARING, then the container created (the first instance type the engine can start), the inputs
        delivered and the container started: EXECUTING. A cancel meanwhile ends the job before it starts."""
        runtime = self.ctx.runtime
        engine = {"engine": self.ctx.ownership.mine()}  # saved with PREPARING, before any container exists
        if self.moves.move(record, JobStatus.PREPARING, by="submit", values=engine).status != JobStatus.PREPARING:
            self.ended_meanwhile(record)  # lost the race: cancelled or ended meanwhile
            return
        # before the volumes are ensured: a gc about to remove one re-reads this and keeps it (jobs/cache_gc.py)
        note_job_use(self.ctx.store, plan.project, engine["engine"], plan.volumes, plan.job_id, say)
        with into_job_error(RuntimeFailure, StoreError):
            spec, placement = prepare_container(
                runtime,
                plan,
                self.ctx.settings.docker_network,
                say,
                self.ctx.settings.image_pull_policy,
                pids_limit=self.ctx.settings.pids_limit,
            )
            volumes = _DataVolumes(self.ctx, plan, say)
            volumes.lazy.start(runtime, self.ctx.settings, self.ctx.settings.docker_network, say)
            spec = volumes.attach(spec)
            grant, spec = self._grant_working_storage(plan, spec, say)
            say_choice(plan, placement, placement.choices[0], say)
            # and whatever else the container mounts (volumes attached to the spec since): generic, any cache kind
            later = [name for name in spec.volumes if name not in plan.volumes]
            note_job_use(self.ctx.store, plan.project, engine["engine"], later, plan.job_id, say)
            started = _Starts(self, plan, record, staged, grant, say, volumes.fill)
            start_with_fallback(spec, placement, started.start, started.discard, say)
        if not started.ended:
            self.moves.move(record, JobStatus.EXECUTING, by="submit")

    def _grant_working_storage(
        self, plan: JobPlan, spec: ContainerSpec, say: Notify
    ) -> tuple[StorageGrant | None, ContainerSpec]:
        """Reserve (or check) the job's working storage on the engine (``jobs/working_storage.py``): what was
        granted and the spec that asks for it. Too little space raises ``JobError``."""
        if not plan.working_storage_bytes:
            return None, spec
        grant, storage_opt = grant_working_storage(
            self.ctx.runtime,
            plan.image,
            plan.working_storage_bytes,
            {LABEL_PROJECT: plan.project},
            self.ctx.settings.working_storage_check,
            say,
        )
        say(grant.describe())
        labels = {**spec.labels, LABEL_WORKING_STORAGE: str(grant.requested_bytes)}  # what later jobs count as held
        return grant, replace(spec, storage_opt=storage_opt, labels=labels)

    def ended_meanwhile(self, record: JobRecord) -> bool:
        """Re-read the job: whether someone cancelled it while it was being submitted (it ends CANCELLED here), or
        ended it otherwise (taken as abandoned by a process that lost sight of this one: its ERROR stands). Either
        way ``record`` becomes the stored one and the container is removed."""
        latest = self.ctx.load(record.id)
        if latest.status != JobStatus.CANCELLING and not latest.status.terminal:
            return False
        container = record.container_id
        adopt(record, latest)
        record.container_id = record.container_id or container
        if latest.status in (JobStatus.CANCELLING, JobStatus.CANCELLED):
            self.moves.cancel_unstarted(record, by="submit")
            record.container_id = record.container_id or container
        self.moves.discard(record)
        return True


class _DataVolumes:
    """Datasets and read-only s3-mounts as engine volumes: attached to the spec, then filled once / brought up to
    date by what changed once the container exists (``jobs/dataset_mounts.py``, ``jobs/s3_mount_caches.py``); lazy
    s3-mounts, where the engine allows them, as s3fs mounts instead (``jobs/s3_lazy_mounts.py``)."""

    def __init__(self, ctx: JobContext, plan: JobPlan, say: Notify) -> None:
        self.ctx, self.plan = ctx, plan
        self.datasets = DatasetMounts.for_plan(ctx.jobs, ctx.runtime, plan)
        self.lazy = LazyMounts.for_plan(ctx.settings, plan, say)
        self.s3_caches = S3MountCaches.for_plan(ctx.runtime, plan, self.lazy.ids)

    def attach(self, spec: ContainerSpec) -> ContainerSpec:
        return self.lazy.attach(self.s3_caches.attach(self.datasets.attach(spec)))

    def fill(self, container_id: str, say: Notify) -> None:
        self.datasets.fill(self.ctx.runtime, self.ctx.jobs, container_id, self.plan, say)
        self.s3_caches.update(self.ctx.runtime, self.ctx.jobs, container_id, self.plan, say)


class _Starts:
    """The launch step for one instance type after another: create the container, store what was created,
    deliver the inputs, start it unless the job ended meanwhile."""

    def __init__(
        self,
        submitter: JobSubmitter,
        plan: JobPlan,
        record: JobRecord,
        staged: StagedInputs,
        grant: StorageGrant | None,
        say: Notify,
        fill_volumes: Callable[[str, Notify], None],
    ) -> None:
        self.submitter, self.plan, self.record, self.staged = submitter, plan, record, staged
        self.grant, self.say, self.fill_volumes = grant, say, fill_volumes
        self.ended = False

    def start(self, spec: ContainerSpec) -> None:
        assert spec.resources is not None
        sub, plan, runtime = self.submitter, self.plan, self.submitter.ctx.runtime
        container_id = runtime.create(spec)
        created = ContainerCreated(container_id, spec.name, spec.resources.name or None, self.grant)
        sub.moves.put_fields(self.record, created.record_fields())
        sized = f" ({spec.resources.name})" if spec.resources.name else ""
        self.say(f"container {spec.name} created from {plan.image}{sized}")
        self.fill_volumes(container_id, self.say)
        built = build_environment(runtime, plan, container_id, spec.network, self._entries, self.say)
        runtime.put_archive(container_id, "/", tar_stream(itertools.chain(self._entries(), built)))
        if sub.ended_meanwhile(self.record):
            self.ended = True
            return
        runtime.start(container_id)

    def _entries(self) -> Iterator[TarEntry]:
        ctx = self.submitter.ctx
        return archive_entries(ctx.jobs, ctx.settings, self.plan, self.staged.delivery)

    def discard(self) -> None:
        """Before the next instance type: the container the engine would not start goes (the lazy mounts stay)."""
        self.submitter.moves.discard(self.record, lazy_mounts=False)
        self.record.container_id = self.record.container_name = None


def unsupported_notes(config: JobConfig) -> Iterator[str]:
    """The lines that tell a submitter what of the config is kept out of the record."""
    secret_names = [v.name for v in config.env.vars if v.value and is_sensitive_name(v.name)]
    if secret_names:
        which = (
            f"env var {secret_names[0]} has" if len(secret_names) == 1 else f"env vars {', '.join(secret_names)} have"
        )
        yield (
            f"{which} a literal value that looks secret: the job record keeps '***' instead (a fork takes the "
            "value from the environment); prefer '- NAME' in config.yaml to copy it from there"
        )
