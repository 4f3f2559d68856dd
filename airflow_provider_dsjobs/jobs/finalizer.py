"""Ending a job: finalize one whose container exited (stage-out, then the terminal status), recover an outcome
another finalizer committed, end a job whose container vanished, or whose launcher died before starting it
(``jobs/lease.py``). Stage-out (``jobs/stage_out.py``) returns a ``StageOutResult``; it is stored here with the
terminal status in one ``Transitions.move``, so the terminal record carries exactly one writer's outcome."""

from __future__ import annotations

import os
import tarfile
from collections.abc import Callable

from airflow_provider_dsjobs.documents.mount_sync import SyncMount
from airflow_provider_dsjobs.documents.plan_doc import PlanDoc
from airflow_provider_dsjobs.documents.record import JobRecord, JobStatus
from airflow_provider_dsjobs.jobs.context import JobContext
from airflow_provider_dsjobs.jobs.errors import EngineLost, into_job_error, one_line
from airflow_provider_dsjobs.jobs.lease import abandoned_reason
from airflow_provider_dsjobs.jobs.log_masking import secret_env_values
from airflow_provider_dsjobs.jobs.plan import PlanError, resolve_s3_source, s3_mount_env_name
from airflow_provider_dsjobs.jobs.stage_out import (
    StageOutRequest,
    StageOutResult,
    SyncTarget,
    recover_from_manifest,
    stage_out,
)
from airflow_provider_dsjobs.jobs.transitions import Transitions
from airflow_provider_dsjobs.resources.s3_connectors import ConnectorRegistry, S3Source
from airflow_provider_dsjobs.runtime.containers import ContainerState
from airflow_provider_dsjobs.runtime.errors import ContainerNotFound, EngineUnreachable, RuntimeFailure
from airflow_provider_dsjobs.storage.base import StoreError

#: Failures of stage-out that end the job ERROR (a lost container or engine does not: see ``finalize``).
_COLLECTION_FAILURES = (RuntimeFailure, StoreError, OSError, tarfile.TarError)


class JobFinalizer:
    """Ends jobs on the engine of ``ctx`` (the caller routed the job to its own engine). ``again(job_id)`` re-reads
    the job, returns it if it is terminal, and else finalizes it anew: what a lost race, or a container another
    finalizer removed, leads to."""

    def __init__(self, ctx: JobContext, transitions: Transitions, again: Callable[[str], JobRecord]) -> None:
        self.ctx = ctx
        self.moves = transitions
        self.again = again

    def finalize(self, record: JobRecord) -> JobRecord:
        """Finalize the active ``record`` (it has a container on this engine); nothing changes while it runs."""
        with into_job_error(RuntimeFailure):
            state = self.ctx.runtime.state(record.container_id or "")
        if state is None:
            return self.container_lost(record)
        if state.status == "created":
            # Created but never started: a launch still under way elsewhere (or one that died half-way).
            if record.status == JobStatus.CANCELLING:
                return self.moves.cancel_unstarted(record, by="finalize")
            return self.settle_abandoned(record) or record
        if not state.finished:
            return record
        recovered = self.recover_committed(record)
        if recovered is not None:
            return recovered
        if record.status not in (JobStatus.CANCELLING, JobStatus.CANCELLED, JobStatus.UPLOADING_OUTPUT):
            record = self.moves.move(record, JobStatus.UPLOADING_OUTPUT, by="finalize")
            if record.status != JobStatus.UPLOADING_OUTPUT:  # lost the race: ended or cancelled meanwhile
                return self.again(record.id)
        return self._stage_out(record, state)

    def _stage_out(self, record: JobRecord, state: ContainerState) -> JobRecord:
        """Stage out and store the outcome with the terminal status (another finalizer's or canceller's stands)."""
        exit_code = state.exit_code if state.exit_code is not None else -1
        try:
            result = self._run_stage_out(record, exit_code, state.oom_killed)
        except ContainerNotFound:  # another finalizer removed it (or it vanished): decide on what is stored now
            return self.again(record.id)
        except EngineUnreachable as exc:  # the outputs are still in the container: a later finalize collects them
            raise EngineLost(one_line(exc)) from None
        except _COLLECTION_FAILURES as exc:
            reason = f"collecting outputs failed: {one_line(exc)}"
            values = {"return_code": exit_code}
            return self.moves.move(record, JobStatus.ERROR, reason, by="finalize", discard=True, values=values)
        return self.apply(record, result)

    def _run_stage_out(self, record: JobRecord, exit_code: int, oom_killed: bool) -> StageOutResult:
        doc = self.ctx.plan_doc(record.id)
        request = StageOutRequest(
            job_id=record.id,
            project=record.project,
            container_id=record.container_id or "",
            input_bytes=sum(i.size for i in record.inputs),
            exit_code=exit_code,
            cancelled=record.status in (JobStatus.CANCELLING, JobStatus.CANCELLED),
            oom_killed=oom_killed,
            sync=self._sync_targets(doc),
            secrets=self._secret_values(record, doc),
        )
        return stage_out(self.ctx.jobs, self.ctx.runtime, request, doc)

    def _secret_values(self, record: JobRecord, doc: PlanDoc) -> frozenset[str]:
        """The secret env values the stored log masks, read from the container while it still exists."""
        return secret_env_values(self.ctx.runtime.environment(record.container_id or ""), doc.secret_env)

    def apply(self, record: JobRecord, result: StageOutResult) -> JobRecord:
        """Store ``result`` with its terminal status and remove the container; a job another process ended first
        keeps that outcome, whole."""
        status, reason = result.outcome
        values = result.record_fields()
        return self.moves.move(record, status, reason, by="finalize", discard=True, values=values)

    def _sync_targets(self, doc: PlanDoc) -> tuple[SyncTarget, ...]:
        """Each read-write s3-mount with its bucket and credentials, resolved as at submit (``jobs/s3_sync.py``)."""
        targets = []
        for mount in doc.s3_sync:
            try:
                targets.append(SyncTarget(mount, source=self._sync_source(mount)))
            except PlanError as exc:
                targets.append(SyncTarget(mount, error=one_line(exc)))
        return tuple(targets)

    def _sync_source(self, mount: SyncMount) -> S3Source:
        where = f"s3-mount {mount.id}"
        if mount.connector:
            registry = ConnectorRegistry(self.ctx.store, self.ctx.project)
            return resolve_s3_source(mount.id, where, self.ctx.settings, {}, registry.get)
        environ = {**os.environ, s3_mount_env_name(mount.id): mount.url}  # the endpoint, as at submit
        return resolve_s3_source(mount.id, where, self.ctx.settings, environ, None)

    def recover_committed(self, record: JobRecord) -> JobRecord | None:
        """If the output manifest is already committed (another finalizer, or one that crashed right after the
        commit point), bring the record to the outcome it recorded; else None."""
        result = recover_from_manifest(self.ctx.jobs, record.id)
        return None if result is None else self.apply(record, result)

    def container_lost(self, record: JobRecord) -> JobRecord:
        """The active ``record``'s container is gone: another finalizer committed (its manifest is the outcome), or
        it vanished (ERROR; CANCELLED for a job being cancelled)."""
        recovered = self.recover_committed(record)
        if recovered is not None:
            return recovered
        if record.status == JobStatus.CANCELLING:
            return self.moves.cancel_unstarted(record, by="finalize")
        reason = f"container {record.container_name or record.container_id} disappeared"
        return self.moves.move(record, JobStatus.ERROR, reason, by="finalize")

    def settle_abandoned(self, record: JobRecord) -> JobRecord | None:
        """If the job has not started and its launcher is gone (``jobs.lease``), end it ERROR (CANCELLED when it
        was being cancelled), remove its container and return the record; ``None`` while the launch may still be
        under way (or has started)."""
        if record.status not in (JobStatus.CREATING, JobStatus.PREPARING, JobStatus.CANCELLING):
            return None
        if record.status == JobStatus.CANCELLING and not self.launch_unfinished(record):
            return None  # a cancel of a started job: the container's state decides
        reason = abandoned_reason(self.ctx.jobs, record)
        if reason is None or not self.launch_unfinished(record):
            return None  # alive, or started: the launcher died after start, the job runs (finalize settles it)
        judged = record.status  # ended only if still in the status judged abandoned (else it moved on meanwhile)
        if judged == JobStatus.CANCELLING:  # cancelled while its submitter was cut off (on_kill)
            settled = self.moves.cancel_unstarted(record, by="lease", expect=judged)
        else:
            settled = self.moves.move(record, JobStatus.ERROR, reason, by="lease", discard=True, expect=judged)
        return settled if settled.status.terminal else None

    def launch_unfinished(self, record: JobRecord) -> bool:
        """Whether the job's container was never started (none yet, gone, or only created)."""
        if not record.container_id:
            return True
        with into_job_error(RuntimeFailure):
            state = self.ctx.runtime.state(record.container_id)
        return state is None or state.status == "created"
