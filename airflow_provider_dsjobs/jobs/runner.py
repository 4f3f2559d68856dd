"""Running a job after its submit: watch it (``refresh``, ``get``, ``wait``), finalize it, cancel it.

Every one of these starts the same way (``_on_owner``): re-read the record; a terminal job is returned as it is;
a job whose container runs on another engine is handed to that engine's runner (``JobContext.peer``), or
``EngineElsewhere`` is raised when it cannot be reached. Only then is anything decided, on this engine. A step that
lost a race re-reads the job and decides again (``Transitions.move`` returns the stored record)."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext, suppress

from airflow_provider_dsjobs.documents.record import JobRecord, JobStatus, utcnow
from airflow_provider_dsjobs.jobs.context import JobContext
from airflow_provider_dsjobs.jobs.errors import EngineElsewhere, EngineLost, JobError, into_job_error, one_line
from airflow_provider_dsjobs.jobs.finalizer import JobFinalizer
from airflow_provider_dsjobs.jobs.progress import ProgressKeeper, read_progress
from airflow_provider_dsjobs.jobs.stats import STATS_FILE, StatsSampler
from airflow_provider_dsjobs.jobs.submitter import JobSubmitter
from airflow_provider_dsjobs.jobs.transitions import Transitions
from airflow_provider_dsjobs.runtime.errors import ContainerNotFound, EngineUnreachable, RuntimeFailure, WaitTimeout

#: Receives the job's output line by line: ``(stream, line)``.
LogSink = Callable[[str, str], None]


class JobRunner:
    """Submits, watches, finalizes and cancels jobs on the engine of ``ctx`` (others through its peers)."""

    def __init__(self, ctx: JobContext) -> None:
        self.ctx = ctx
        self.moves = Transitions(ctx)
        self.submitter = JobSubmitter(ctx, self.moves)
        self.finalizer = JobFinalizer(ctx, self.moves, self.finalize)
        self._peers: dict[JobContext, JobRunner] = {}

    def _on_owner(self, job_id: str, act: Callable[[JobRunner, JobRecord], JobRecord]) -> JobRecord:
        """Reload the job and stop if it is terminal; else ``act`` on it with the runner of its engine."""
        record = self.ctx.load(job_id)
        if record.status.terminal:
            return record
        return act(self._runner_for(record), record)

    def _runner_for(self, record: JobRecord) -> JobRunner:
        peer = self.ctx.peer(record)
        if peer is None:
            return self
        runner = self._peers.get(peer)
        if runner is None:
            runner = self._peers[peer] = JobRunner(peer)
        return runner

    # -- watching --------------------------------------------------------------------------------------------

    def refresh(self, job_id: str) -> JobRecord:
        return self._on_owner(job_id, lambda runner, record: runner._refresh(record))

    def _refresh(self, record: JobRecord) -> JobRecord:
        settled = self.finalizer.settle_abandoned(record)
        if settled is not None:
            return settled
        if record.container_id and not self._container_running(record):
            record.status = JobStatus.UPLOADING_OUTPUT  # reported only: finalize saves the outcome
        return record

    def get(self, job_id: str) -> JobRecord:
        try:
            return self._on_owner(job_id, lambda runner, record: runner._get(record))
        except EngineElsewhere as exc:  # shown, not saved: the job's own engine decides
            record = self.ctx.load(job_id)
            record.status_details = str(exc)
            return record

    def _get(self, record: JobRecord) -> JobRecord:
        settled = self.finalizer.settle_abandoned(record)
        if settled is not None:
            return settled
        if not record.container_id:
            return record
        if self._container_running(record) is True:
            live = read_progress(self.ctx.store, self.ctx.jobs.progress_key(record.id))
            if live is not None:  # what a follower saw: shown, not saved (finalize records the last one)
                record.progress, record.progress_message = live.percent, live.message
            return record
        return self._finalize(record)

    def _container_running(self, record: JobRecord) -> bool | None:
        """True/False from the engine; None when the container is gone. A job cancelled without waiting
        (``request_cancel``) whose container outlives its graceful-shutdown timeout is killed here."""
        runtime, cid = self.ctx.runtime, record.container_id or ""
        with into_job_error(RuntimeFailure):
            state = runtime.state(cid)
            if state is not None and not state.finished and self._cancel_overdue(record):
                runtime.stop(cid, signal=None)
                state = runtime.state(cid)
        return None if state is None else not state.finished

    def _cancel_overdue(self, record: JobRecord) -> bool:
        if record.status != JobStatus.CANCELLING:
            return False
        asked = next((h.at for h in reversed(record.history) if h.status == JobStatus.CANCELLING), None)
        if asked is None:
            return True
        grace = self.ctx.plan_doc(record.id).graceful_timeout or 0.0
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
        deadline = None if timeout is None else time.monotonic() + timeout
        record = self._launched(job_id, poll_interval, deadline, timeout)
        if record.status.terminal:
            return record
        runner = self._runner_for(record)
        if runner is not self:
            return runner.wait(job_id, log=log, poll_interval=poll_interval, timeout=timeout, since=since)
        keeper = ProgressKeeper(self.ctx.store, self.ctx.jobs.progress_key(job_id))
        with self._sampling(record):
            settled = self._follow(record, log, keeper, since, poll_interval, (deadline, timeout))
        keeper.flush()
        return settled if settled is not None else self.finalize(job_id)

    def _launched(self, job_id: str, poll_interval: float, deadline: float | None, timeout: float | None) -> JobRecord:
        """The record once the job has a container or has ended (still being launched by another process: wait)."""
        record = self.ctx.load(job_id)
        while not record.container_id and not record.status.terminal:
            settled = self.finalizer.settle_abandoned(record)
            if settled is not None:
                return settled
            if deadline is not None and time.monotonic() > deadline:
                raise JobError(f"job {job_id} is still being launched after {timeout} s")
            time.sleep(poll_interval)
            record = self.ctx.load(job_id)
        return record

    def _follow(
        self,
        record: JobRecord,
        log: LogSink | None,
        keeper: ProgressKeeper,
        since: float | None,
        poll_interval: float,
        limit: tuple[float | None, float | None],
    ) -> JobRecord | None:
        """Stream the output to ``log`` (progress markers to ``keeper``) until the container stops; a record
        when the job was settled meanwhile (abandoned by its launcher), else None."""
        deadline, timeout = limit
        while True:
            if log is not None:
                self._stream(record.container_id or "", log, keeper, since)
                since = time.time()
            if not self._container_running(record):
                return None
            if record.status in (JobStatus.CREATING, JobStatus.PREPARING):  # not started when we last looked
                record = self.ctx.load(record.id)
                settled = self.finalizer.settle_abandoned(record)
                if settled is not None:
                    return settled
            if deadline is not None and time.monotonic() > deadline:
                raise JobError(f"job {record.id} is still running after {timeout} s")
            time.sleep(poll_interval)

    def _stream(self, container_id: str, log: LogSink, keeper: ProgressKeeper, since: float | None) -> None:
        try:
            for stream, line in self.ctx.runtime.stream_logs(container_id, follow=True, since=since):
                log(stream, line)
                keeper.see(stream, line)
        except RuntimeFailure:
            # Gone (finalized by someone else) or the stream broke: the state decides, the stored log is whole.
            pass

    def _sampling(self, record: JobRecord) -> AbstractContextManager[object]:
        """Container stats into ``logs/docker_stats.tsv`` while the job is followed (``jobs/stats.py``)."""
        interval, cid = self.ctx.settings.stats_interval, record.container_id
        if interval <= 0 or not cid:
            return nullcontext()
        key = self.ctx.jobs.log_key(record.id, STATS_FILE)
        runtime = self.ctx.runtime
        return StatsSampler(lambda: runtime.stats(cid), self.ctx.store, key, interval)

    # -- finalize and cancel -----------------------------------------------------------------------------------

    def finalize(self, job_id: str) -> JobRecord:
        return self._on_owner(job_id, lambda runner, record: runner._finalize(record))

    def _finalize(self, record: JobRecord) -> JobRecord:
        if not record.container_id:
            return record
        return self.finalizer.finalize(record)

    def cancel(self, job_id: str, *, graceful: bool = True) -> JobRecord:
        return self._on_owner(job_id, lambda runner, record: runner._cancel(record, graceful))

    def _cancel(self, record: JobRecord, graceful: bool) -> JobRecord:
        record, asked = self.moves.enter(record, JobStatus.CANCELLING, by="cancel")
        if record.status.terminal:  # ended meanwhile: nothing to cancel
            return record
        if not record.container_id:
            return self.moves.cancel_unstarted(record, by="cancel")
        doc = self.ctx.plan_doc(record.id)
        signal = doc.graceful_signal if graceful else None
        timeout = (doc.graceful_timeout or 0.0) if signal else None
        try:
            if asked:
                self.ctx.runtime.stop(record.container_id, signal=signal, timeout=timeout)
            else:  # another canceller sent the signal: the same grace, then the end (one signal per cancel)
                self._end_after(record.container_id, timeout)
        except ContainerNotFound:  # removed meanwhile: decide on what is stored now
            return self.finalize(record.id)
        except EngineUnreachable as exc:  # what the container does is unknown: CANCELLING stays, a reader finishes
            raise EngineLost(one_line(exc)) from None
        except RuntimeFailure as exc:
            raise JobError(one_line(exc)) from None
        return self.finalize(record.id)

    def request_cancel(self, job_id: str, *, graceful: bool = True) -> JobRecord:
        return self._on_owner(job_id, lambda runner, record: runner._request_cancel(record, graceful))

    def _end_after(self, container_id: str, timeout: float | None) -> None:
        """Wait up to ``timeout`` seconds for the container to stop on the signal it got, then kill it (a no-op
        on a container that stopped)."""
        if timeout:
            with suppress(WaitTimeout):
                self.ctx.runtime.wait(container_id, timeout=timeout)
                return
        self.ctx.runtime.stop(container_id, signal=None)

    def _request_cancel(self, record: JobRecord, graceful: bool) -> JobRecord:
        record, asked = self.moves.enter(record, JobStatus.CANCELLING, by="request_cancel")
        if record.status.terminal or not record.container_id:
            return record
        if graceful and not asked:  # one graceful signal per cancel: the canceller that moved the job sent it
            return record
        signal = self.ctx.plan_doc(record.id).graceful_signal if graceful else None
        with suppress(ContainerNotFound), into_job_error(RuntimeFailure):
            self.ctx.runtime.signal(record.container_id, signal or "SIGKILL")
        return record
