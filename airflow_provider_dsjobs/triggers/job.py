"""The deferrable trigger: watches a job from the triggerer until its program stops.

It polls ``JobService.refresh`` (status from the engine, no stage-out) in a worker thread and emits exactly one
event, then returns:

* ``{"status": "exited", ...}``   the container exited; the job awaits stage-out (``UPLOADING_OUTPUT``);
* ``{"status": "terminal", ...}`` the job already has a terminal status (SUCCESS, ERROR, CANCELLED);
* ``{"status": "error", ...}``    the job could not be inspected (``message`` says why).

Stage-out (``finalize``) is left to the task when it resumes on a worker: uploads do not belong in the triggerer.
When a user kills the deferred task (mark failed/success, clear) ``on_kill`` cancels the job, gracefully by
default, unless ``on_kill_action="keep"``. Airflow bounds ``on_kill`` by ``[triggerer] on_kill_timeout`` (30 s by
default): a config whose ``graceful-shutdown.timeout`` is longer needs that option raised to finish gracefully.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

from airflow.sdk.exceptions import AirflowException
from airflow.triggers.base import BaseTrigger, TriggerEvent
from asgiref.sync import sync_to_async

from airflow_provider_dsjobs.hooks.dsjobs import DataSphereJobsHook
from airflow_provider_dsjobs.jobs.record import JobRecord, JobStatus
from airflow_provider_dsjobs.jobs.service import JobService

ON_KILL_ACTIONS = ("cancel", "keep")


def watched_job_id(event: object) -> str:
    """The job id of an event this trigger emitted, for the task resuming on it (operator and sensor alike):
    ``AirflowException`` for an event that is not one of ours, or that says the job could not be watched."""
    if not isinstance(event, Mapping) or not event.get("job_id") or event.get("status") is None:
        raise AirflowException(f"DataSphere job trigger sent no usable event: {event!r}")
    job_id = str(event["job_id"])
    if event["status"] == "error":
        raise AirflowException(str(event.get("message") or f"job {job_id} could not be watched"))
    return job_id


class DataSphereJobTrigger(BaseTrigger):
    """Fires once when job ``job_id`` stops running.

    :param job_id: the job to watch.
    :param dsjobs_conn_id: connection the job was submitted with.
    :param poll_interval: seconds between status checks.
    :param graceful_cancel: on a user kill, cancel with the config's ``graceful-shutdown`` (signal, wait, kill).
    :param on_kill_action: ``cancel`` (default) or ``keep`` the job running when the user kills the task.
    """

    def __init__(
        self,
        job_id: str,
        dsjobs_conn_id: str = DataSphereJobsHook.default_conn_name,
        poll_interval: float = 5.0,
        graceful_cancel: bool = True,
        on_kill_action: str = "cancel",
    ) -> None:
        super().__init__()
        if on_kill_action not in ON_KILL_ACTIONS:
            raise ValueError(f"on_kill_action must be one of {ON_KILL_ACTIONS}, got {on_kill_action!r}")
        self.job_id = job_id
        self.dsjobs_conn_id = dsjobs_conn_id
        self.poll_interval = float(poll_interval)
        self.graceful_cancel = bool(graceful_cancel)
        self.on_kill_action = on_kill_action
        self._service: JobService | None = None

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "job_id": self.job_id,
                "dsjobs_conn_id": self.dsjobs_conn_id,
                "poll_interval": self.poll_interval,
                "graceful_cancel": self.graceful_cancel,
                "on_kill_action": self.on_kill_action,
            },
        )

    def _get_service(self) -> JobService:
        """The service, built once per trigger instance (connection lookup is blocking: call in a thread)."""
        if self._service is None:
            self._service = DataSphereJobsHook(dsjobs_conn_id=self.dsjobs_conn_id).get_conn()
        return self._service

    def _refresh(self) -> JobRecord:
        return self._get_service().refresh(self.job_id)

    def _event(self, status: str, record: JobRecord | None = None, message: str | None = None) -> TriggerEvent:
        payload: dict[str, Any] = {"status": status, "job_id": self.job_id}
        if record is not None:
            payload["job_status"] = record.status.value
            payload["return_code"] = record.return_code
        if message is not None:
            payload["message"] = message
        return TriggerEvent(payload)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        refresh = sync_to_async(self._refresh, thread_sensitive=False)
        while True:
            try:
                record = await refresh()
            except Exception as exc:
                self.log.error("Cannot read the status of job %s: %s", self.job_id, exc)
                yield self._event("error", message=f"cannot read the status of job {self.job_id}: {exc}")
                return
            if record.status.terminal:
                yield self._event("terminal", record)
                return
            if record.status == JobStatus.UPLOADING_OUTPUT:
                yield self._event("exited", record)
                return
            self.log.debug("Job %s is %s; next check in %.1fs", self.job_id, record.status.value, self.poll_interval)
            await asyncio.sleep(self.poll_interval)

    async def on_kill(self) -> None:
        """A user killed the deferred task: cancel the job unless told to keep it."""
        if self.on_kill_action == "keep":
            self.log.info("Task killed; keeping job %s running (on_kill_action=keep)", self.job_id)
            return
        self.log.info("Task killed; cancelling job %s (graceful=%s)", self.job_id, self.graceful_cancel)

        def cancel() -> None:
            self._get_service().cancel(self.job_id, graceful=self.graceful_cancel)

        await sync_to_async(cancel, thread_sensitive=False)()
