"""The deferrable trigger: watches a job from the triggerer until its program stops.

It polls ``JobService.refresh`` (status from the engine, no stage-out) in a worker thread and emits exactly one
event, then returns:

* ``{"status": "exited", ...}``   the container exited; the job awaits stage-out (``UPLOADING_OUTPUT``);
* ``{"status": "terminal", ...}`` the job already has a terminal status (SUCCESS, ERROR, CANCELLED);
* ``{"status": "timeout", ...}``  the task's deadline (its start plus ``execution_timeout``) passed first;
* ``{"status": "error", ...}``    the job could not be inspected (``message`` and ``failed_call`` say why).

A failed poll (an engine API blip, an S3 5xx) is retried with exponential backoff; the trigger gives up with an
``error`` event after ``max_poll_failures`` consecutive failures or ``max_failure_seconds``, whichever comes
first. The job is left as it was (its record untouched, the container running): the task's next try
re-attaches to it. A job that does not exist is an ``error`` at once.

While it waits, the job's new output lines go into the task log (Airflow routes a trigger's log there), read
incrementally with an engine-side cursor: at most ``MAX_LINES_PER_POLL`` lines per poll, nothing accumulated.
The triggerer is another process than the worker that masked the job's secrets, so before the first line the
trigger registers with its own secret masker the values of the container's env vars that are secret (a name
that looks sensitive, or one of ``secret_env_names``); only names travel in the trigger's kwargs.

Stage-out (``finalize``) is left to the task when it resumes on a worker: uploads do not belong in the triggerer.
When a user kills the deferred task (mark failed/success, clear) ``on_kill`` cancels the job, gracefully by
default, unless ``on_kill_action="keep"``. Airflow 3.3 calls ``on_kill`` and bounds it by ``[triggerer]
on_kill_timeout`` (30 s by default): a config whose ``graceful-shutdown.timeout`` is longer needs that option
raised to finish gracefully. Older Airflow only cancels the trigger: ``run`` then asks for the task's state and
calls ``on_kill`` itself when the task is no longer deferred (``compat.task_killed``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent
from asgiref.sync import sync_to_async

from airflow_provider_dsjobs.compat import AirflowException, task_killed
from airflow_provider_dsjobs.documents.record import JobRecord, JobStatus
from airflow_provider_dsjobs.exceptions import DataSphereInfrastructureError
from airflow_provider_dsjobs.hooks.dsjobs import DataSphereJobsHook
from airflow_provider_dsjobs.jobs.errors import InfrastructureError, JobError
from airflow_provider_dsjobs.jobs.service import JobService

ON_KILL_ACTIONS = ("cancel", "keep")
#: Job output lines written to the task log per poll at most (the rest follows at the next poll).
MAX_LINES_PER_POLL = 1000
#: Seconds the trigger waits, after writing job output, before its final event (see ``run``).
FINAL_LOG_GRACE = 2.0
#: Longest wait between two attempts of a failing poll.
MAX_BACKOFF = 60.0


def watched_job_id(event: object) -> str:
    """The job id of an event this trigger emitted, for the task resuming on it (operator and sensor alike):
    ``AirflowException`` for an event that is not one of ours, ``DataSphereInfrastructureError`` (retries apply:
    the job is left as it is, the next try re-attaches) for one that says the job could not be watched."""
    if not isinstance(event, Mapping) or not event.get("job_id") or event.get("status") is None:
        raise AirflowException(f"DataSphere job trigger sent no usable event: {event!r}")
    job_id = str(event["job_id"])
    if event["status"] == "error":
        message = str(event.get("message") or f"job {job_id} could not be watched")
        raise DataSphereInfrastructureError(message, job_id=job_id)
    return job_id


class DataSphereJobTrigger(BaseTrigger):
    """Fires once when job ``job_id`` stops running, or when ``deadline`` passes.

    :param job_id: the job to watch.
    :param dsjobs_conn_id: connection the job was submitted with.
    :param poll_interval: seconds between status checks.
    :param graceful_cancel: on a user kill, cancel with the config's ``graceful-shutdown`` (signal, wait, kill).
    :param on_kill_action: ``cancel`` (default) or ``keep`` the job running when the user kills the task.
    :param deadline: epoch seconds (UTC) after which a ``timeout`` event is sent (None: no deadline).
    :param stream_logs: write the job's new output lines into the task log while waiting.
    :param max_poll_failures: consecutive failed polls before giving up.
    :param max_failure_seconds: seconds of consecutive failures before giving up.
    :param docker_conn_id: the ``docker`` connection the job's engine is reached with, if any.
    :param secret_env_names: env var names whose values are masked in the streamed output besides the names
        that look sensitive (the operator's ``secret_env_vars``).
    """

    def __init__(
        self,
        job_id: str,
        dsjobs_conn_id: str = DataSphereJobsHook.default_conn_name,
        poll_interval: float = 5.0,
        graceful_cancel: bool = True,
        on_kill_action: str = "cancel",
        deadline: float | None = None,
        stream_logs: bool = True,
        max_poll_failures: int = 5,
        max_failure_seconds: float = 300.0,
        docker_conn_id: str | None = None,
        secret_env_names: list[str] | None = None,
    ) -> None:
        super().__init__()
        if on_kill_action not in ON_KILL_ACTIONS:
            raise ValueError(f"on_kill_action must be one of {ON_KILL_ACTIONS}, got {on_kill_action!r}")
        self.job_id = job_id
        self.dsjobs_conn_id = dsjobs_conn_id
        self.poll_interval = float(poll_interval)
        self.graceful_cancel = bool(graceful_cancel)
        self.on_kill_action = on_kill_action
        self.deadline = None if deadline is None else float(deadline)
        self.stream_logs = bool(stream_logs)
        self.max_poll_failures = max(1, int(max_poll_failures))
        self.max_failure_seconds = float(max_failure_seconds)
        self.docker_conn_id = docker_conn_id
        self.secret_env_names = sorted(secret_env_names or [])
        self._masked = False
        self._service: JobService | None = None
        self._cursor: Any = None
        self._streamed = 0

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "job_id": self.job_id,
                "dsjobs_conn_id": self.dsjobs_conn_id,
                "poll_interval": self.poll_interval,
                "graceful_cancel": self.graceful_cancel,
                "on_kill_action": self.on_kill_action,
                "deadline": self.deadline,
                "stream_logs": self.stream_logs,
                "max_poll_failures": self.max_poll_failures,
                "max_failure_seconds": self.max_failure_seconds,
                "docker_conn_id": self.docker_conn_id,
                "secret_env_names": self.secret_env_names,
            },
        )

    def _get_service(self) -> JobService:
        """The service, built once per trigger instance (connection lookup is blocking: call in a thread)."""
        if self._service is None:
            hook = DataSphereJobsHook(dsjobs_conn_id=self.dsjobs_conn_id, docker_conn_id=self.docker_conn_id)
            self._service = hook.get_conn()
        return self._service

    def _refresh(self) -> JobRecord:
        return self._get_service().refresh(self.job_id)

    def _stream_new_output(self, record: JobRecord, limit: int = MAX_LINES_PER_POLL) -> int:
        """Write up to ``limit`` new output lines of the job into the log (read on the job's own engine, which may
        be another than the triggerer's: ``jobs/ownership.py``); how many were written."""
        container_id = record.container_id
        if not self.stream_logs or not container_id:
            return 0
        if not self._masked:
            self._mask_secret_env(record)
            if not self._masked:
                return 0
        from airflow_provider_dsjobs.operators.job_result import log_line  # that package imports this module
        from airflow_provider_dsjobs.runtime.errors import RuntimeFailure
        from airflow_provider_dsjobs.runtime.log_stream import LogCursor

        if self._cursor is None:
            self._cursor = LogCursor()
        written = 0
        try:
            runtime = self._get_service().runtime_of(record)
            lines = runtime.stream_logs(container_id, follow=False, cursor=self._cursor)
            for stream, line in lines:
                log_line(self.log, stream, line)
                written += 1
                if written >= limit:
                    break
        except (RuntimeFailure, JobError) as exc:  # the container went away or the read broke: status decides
            self.log.debug("Reading the output of job %s stopped: %s", self.job_id, exc)
        self._streamed += written
        return written

    def _mask_secret_env(self, record: JobRecord) -> None:
        from airflow.sdk.log import mask_secret

        from airflow_provider_dsjobs.hooks.secret_names import is_secret_env_name
        from airflow_provider_dsjobs.runtime.errors import ContainerNotFound

        try:
            environment = self._get_service().runtime_of(record).environment(record.container_id or "")
        except ContainerNotFound:  # finalized already: there is nothing to stream
            return
        except Exception as exc:  # without the values nothing can be masked: stream nothing rather than leak
            self.log.warning("Not streaming job %s output: its environment cannot be read (%s)", self.job_id, exc)
            self.stream_logs = False
            return
        for name, value in environment.items():
            if value and (name in self.secret_env_names or is_secret_env_name(name)):
                mask_secret(value)
        self._masked = True

    def _event(self, status: str, record: JobRecord | None = None, message: str | None = None) -> TriggerEvent:
        payload: dict[str, Any] = {"status": status, "job_id": self.job_id, "log_streamed": self._streamed > 0}
        if record is not None:
            payload["job_status"] = record.status.value
            payload["return_code"] = record.return_code
        if message is not None:
            payload["message"] = message
        return TriggerEvent(payload)

    async def _poll(self) -> JobRecord | TriggerEvent:
        """One status read, retried with backoff while it fails transiently; an ``error`` event on giving up."""
        refresh = sync_to_async(self._refresh, thread_sensitive=False)
        failures, first_failure = 0, time.monotonic()
        while True:
            try:
                return await refresh()
            except JobError as exc:
                if not isinstance(exc, InfrastructureError):  # e.g. the job does not exist: retrying cannot help
                    return self._give_up(exc, 1)
                error: Exception = exc
            except Exception as exc:  # a transport error the core did not wrap
                error = exc
            failures += 1
            elapsed = time.monotonic() - first_failure
            if failures >= self.max_poll_failures or elapsed >= self.max_failure_seconds:
                return self._give_up(error, failures)
            delay = min(self.poll_interval * 2**failures, MAX_BACKOFF)
            self.log.warning(
                "Reading the status of job %s failed (attempt %d of %d): %s; retrying in %.1fs",
                self.job_id, failures, self.max_poll_failures, error, delay,
            )  # fmt: skip
            await asyncio.sleep(delay)

    def _give_up(self, error: Exception, attempts: int) -> TriggerEvent:
        message = (
            f"cannot read the status of job {self.job_id} (JobService.refresh failed"
            f"{f' {attempts} times' if attempts > 1 else ''}): {error}"
        )
        self.log.error("%s", message)
        return self._event("error", message=message)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        try:
            async for event in self._watch():
                yield event
        except asyncio.CancelledError:
            await self._cancel_if_task_killed()
            raise

    async def _cancel_if_task_killed(self) -> None:
        """The triggerer cancelled this trigger. An Airflow without ``BaseTrigger.on_kill`` (before 3.3) does that
        alike for a user's kill and for a triggerer that stops or hands the trigger over: the task's state (no
        longer deferred) tells them apart, and only a kill runs ``on_kill``. With ``on_kill`` Airflow calls it."""
        try:
            killed = await sync_to_async(task_killed, thread_sensitive=False)(getattr(self, "task_instance", None))
        except Exception as exc:  # the job is never cancelled on a guess
            self.log.warning("Cannot read the state of job %s's task (%s); the job keeps running", self.job_id, exc)
            return
        if killed:
            await self.on_kill()

    async def _watch(self) -> AsyncIterator[TriggerEvent]:
        stream = sync_to_async(self._stream_new_output, thread_sensitive=False)
        while True:
            polled = await self._poll()
            if isinstance(polled, TriggerEvent):
                yield polled
                return
            record = polled
            await stream(record)
            if record.status.terminal or record.status == JobStatus.UPLOADING_OUTPUT:
                drained = await stream(record)
                while drained >= MAX_LINES_PER_POLL:  # the rest of a finished log
                    drained = await stream(record)
                if self._streamed:
                    # The triggerer ships a trigger's log lines to the task log asynchronously and stops once the
                    # trigger is done: give the last lines time to get there (lines were lost without this).
                    await asyncio.sleep(FINAL_LOG_GRACE)
                yield self._event("terminal" if record.status.terminal else "exited", record)
                return
            if self.deadline is not None and time.time() >= self.deadline:
                self.log.error("Job %s is still %s at the task's deadline", self.job_id, record.status.value)
                yield self._event("timeout", record, message=f"job {self.job_id} did not finish before the deadline")
                return
            self.log.debug("Job %s is %s; next check in %.1fs", self.job_id, record.status.value, self.poll_interval)
            wait = self.poll_interval
            if self.deadline is not None:
                wait = max(0.0, min(wait, self.deadline - time.time()))
            await asyncio.sleep(wait)

    async def on_kill(self) -> None:
        """A user killed the deferred task: cancel the job unless told to keep it."""
        if self.on_kill_action == "keep":
            self.log.info("Task killed; keeping job %s running (on_kill_action=keep)", self.job_id)
            return
        self.log.info("Task killed; cancelling job %s (graceful=%s)", self.job_id, self.graceful_cancel)

        def cancel() -> None:
            self._get_service().cancel(self.job_id, graceful=self.graceful_cancel)

        await sync_to_async(cancel, thread_sensitive=False)()
