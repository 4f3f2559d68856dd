"""What every job operator does around its job: durability, deferral, XCom, links, on_kill (``JobOperatorBase``).

A subclass says what its job is: ``_prepare_job`` validates (failing the task at once, without retries) and
``_submit_job`` submits through the core; everything else is shared, so ``DataSphereJobOperator`` (a config.yaml)
and ``LabJobOperator`` (an ML Lab image) behave the same:

* the job id goes to ``task_state_store`` (durable: a retry re-attaches instead of starting a second job), to
  XCom (``job_id``) and to the extra link as soon as the job exists; container labels identify the task try as
  the fallback when the store has nothing. The decisions are ``ResumableJobMixin``'s (running → re-attach,
  succeeded → reuse its result, failed → submit anew), made explicitly because the mixin covers neither the
  deferrable path nor a label fallback, and returns different things on its reconnect and fresh paths;
* the container's output streams into the task log; deferrable mode hands the wait to ``DataSphereJobTrigger``
  and shows the log tail on resume;
* the end result is the ``return_value`` dict, ``output_datasets`` XCom and one asset event per output dataset.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_dsjobs.assets import DEFAULT_ALIAS, add_alias_outlet, emit_output_datasets
from airflow_provider_dsjobs.compat import AirflowTaskTimeout, conf, task_state_store
from airflow_provider_dsjobs.documents.record import JobRecord, JobStatus
from airflow_provider_dsjobs.hooks.dsjobs import DataSphereJobsHook
from airflow_provider_dsjobs.jobs.service import EngineElsewhere, JobError, JobService
from airflow_provider_dsjobs.lineage.task import capture as capture_lineage
from airflow_provider_dsjobs.links.job import DataSphereJobLink
from airflow_provider_dsjobs.operators.job_result import (
    DEFAULT_LOG_TAIL,
    STATE_HANDED_OFF,
    STATE_JOB_ID,
    XCOM_JOB_ID,
    XCOM_OUTPUT_DATASETS,
    XCOM_RESULT,
    check_outcome,
    exit_codes,
    is_exited,
    job_error_into_airflow,
    job_result,
    log_line,
    log_outcome,
    log_tail,
)
from airflow_provider_dsjobs.triggers.job import ON_KILL_ACTIONS, DataSphereJobTrigger, watched_job_id

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context

    from airflow_provider_dsjobs.lineage.facts import JobFacts

#: How long past the trigger's own deadline Airflow's deferral timeout waits (the trigger should fire first).
DEFER_TIMEOUT_PADDING = timedelta(seconds=120)
#: What a subclass's ``_submit_job`` calls as soon as the job's record exists (before upload and image pull).
OnCreated = Callable[[JobRecord], None]


def task_labels(context: Mapping[str, Any]) -> dict[str, str]:
    """Labels that identify a task instance across its tries (the re-attach fallback searches by these)."""
    ti = context["ti"]
    return {
        "airflow.dag_id": str(ti.dag_id),
        "airflow.task_id": str(ti.task_id),
        "airflow.run_id": str(ti.run_id),
        "airflow.map_index": str(getattr(ti, "map_index", -1)),
    }


class JobOperatorBase(BaseOperator):
    """Run one core job per task try and see it through (the module docstring says how).

    :param wait_for_completion: wait for the job (default). With False the task ends once the job runs and
        returns its id; watch it with ``DataSphereJobSensor``.
    :param deferrable: wait in the triggerer instead of a worker slot.
    :param poll_interval: seconds between status checks.
    :param skip_on_exit_code: exit code(s) that mark the task skipped instead of failed.
    :param on_kill_action: ``cancel`` (default: the job is cancelled, gracefully, when the task is killed, times
        out or its worker shuts down) or ``keep`` (leave it running; the next try re-attaches).
    :param durable: remember the job id across tries and re-attach to a running job instead of starting another.
    :param log_tail_lines: lines of output shown when the task picks up a job it did not watch.
    :param dataset_alias: asset alias that receives one event per output dataset (None: no asset events).
    :param image_pull_policy: ``always``, ``if-missing`` or ``never`` (default: the connection's, else
        ``if-missing``).
    :param stream_logs: while deferred, write the job's new output into the task log as it comes.
    :param docker_conn_id: a ``docker`` connection (registry login) used through DockerHook; overrides the
        ``dsjobs`` connection's ``docker_conn_id`` extra.
    :param dsjobs_conn_id: the ``dsjobs`` connection. ``dsjobs_default`` may be absent (``DSJOBS_*`` variables and
        embedded defaults, with a warning); any other id must exist or the task fails at once.
    """

    operator_extra_links = (DataSphereJobLink(),)
    ui_color = "#d6eaff"

    def __init__(
        self,
        *,
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 5.0,
        skip_on_exit_code: int | Iterable[int] | None = None,
        on_kill_action: str = "cancel",
        durable: bool = True,
        log_tail_lines: int = DEFAULT_LOG_TAIL,
        dataset_alias: str | None = DEFAULT_ALIAS,
        image_pull_policy: str | None = None,
        stream_logs: bool = True,
        docker_conn_id: str | None = None,
        dsjobs_conn_id: str = DataSphereJobsHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        if on_kill_action not in ON_KILL_ACTIONS:
            raise ValueError(f"on_kill_action must be one of {ON_KILL_ACTIONS}, got {on_kill_action!r}")
        add_alias_outlet(kwargs, dataset_alias)
        super().__init__(**kwargs)
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.skip_on_exit_code = exit_codes(skip_on_exit_code)
        self.on_kill_action = on_kill_action
        self.durable = durable
        self.log_tail_lines = log_tail_lines
        self.dataset_alias = dataset_alias
        self.image_pull_policy = image_pull_policy
        self.stream_logs = stream_logs
        self.docker_conn_id = docker_conn_id
        self.dsjobs_conn_id = dsjobs_conn_id
        self._job_id: str | None = None
        #: The job's link once known in this process (DataSphereJobLink reads it at the end of the task).
        self.job_link: str | None = None
        #: What OpenLineage reports of the job, read when the task is done with it (``lineage/task.py``).
        self._lineage_facts: JobFacts | None = None

    @cached_property
    def hook(self) -> DataSphereJobsHook:
        return DataSphereJobsHook(
            dsjobs_conn_id=self.dsjobs_conn_id,
            image_pull_policy=self.image_pull_policy or None,
            docker_conn_id=self.docker_conn_id or None,
        )

    # -- what a subclass provides ----------------------------------------------------------------------------

    def _prepare_job(self) -> None:
        """Validate the job's definition; raise ``AirflowFailException`` (no retries) when it is invalid."""

    def _submit_job(self, service: JobService, labels: Mapping[str, str], on_created: OnCreated) -> JobRecord:
        """Submit the job with ``labels``, calling ``on_created`` as soon as its record exists; return its record
        once it runs."""
        raise NotImplementedError

    def _secret_env_names(self) -> list[str]:
        """Env var names to mask whatever they are called (the trigger masks them in the triggerer too)."""
        return []

    # -- run -------------------------------------------------------------------------------------------------

    def execute(self, context: Context) -> dict[str, Any]:
        try:
            with job_error_into_airflow(self._job_id):
                return self._execute(context)
        except AirflowTaskTimeout:
            # execution_timeout on the worker (the runner calls on_kill next, which then has nothing to do):
            # here there is time for the whole graceful cancel and stage-out.
            self._cancel_after_timeout()
            raise

    def _execute(self, context: Context) -> dict[str, Any]:
        self._prepare_job()
        service = self.hook.service
        try:
            record = self._reattach(context, service)
        except EngineElsewhere as exc:  # it may well be running: a second job is the one thing not to start
            raise EngineElsewhere(
                f"{exc}; not starting a second job: run this task where that engine is reachable (its queue) "
                "or add the engine to this worker's dsjobs connection (extra engines)"
            ) from None
        if record is None:
            labels = {**task_labels(context), "airflow.try_number": str(getattr(context["ti"], "try_number", ""))}
            record = self._submit_job(service, labels, lambda created: self._remember(context, created))
            self.log.info("Job %s is %s", record.id, record.status.value)
        self._job_id = record.id
        self._remember(context, record)
        if record.status.terminal:  # an earlier try's job that already succeeded
            log_tail(service, record.id, self.log_tail_lines, self.log)
            return self._complete(context, record)

        if not self.wait_for_completion:
            self._hand_off(context, record)
            self._lineage_facts = capture_lineage(self.hook, record)
            return job_result(record)
        if self.deferrable:
            return self._defer_unless_exited(context, service, record.id)
        record = service.wait(record.id, log=self._log_sink, poll_interval=self.poll_interval)
        return self._complete(context, record)

    def _reattach(self, context: Context, service: JobService) -> JobRecord | None:
        """A job an earlier try of this task started: running (re-attach) or succeeded (reuse); else None."""
        if not self.durable:
            return None
        store = task_state_store(context)
        job_id = store.get(STATE_JOB_ID) if store is not None else None
        if job_id:
            try:
                record: JobRecord | None = service.refresh(str(job_id))
            except EngineElsewhere:
                raise
            except JobError as exc:
                self.log.warning("Job %s from an earlier try cannot be read (%s); starting a new job", job_id, exc)
                record = None
            if record is not None and record.status == JobStatus.CANCELLING:
                self.log.info("Job %s of an earlier try was being cancelled; finishing that first", record.id)
                record = service.cancel(record.id, graceful=True)
            if record is not None and (not record.status.terminal or record.status == JobStatus.SUCCESS):
                self.log.info("Re-attaching to job %s (%s) started by an earlier try", record.id, record.status.value)
                return record
            if record is not None:
                self.log.info("Job %s of an earlier try ended %s; starting a new job", record.id, record.status.value)
                return None
        if int(getattr(context["ti"], "try_number", 2) or 2) <= 1:
            return None  # a first try has no earlier try whose job could be running (spares a store scan)
        if store is None and not self.wait_for_completion:
            # Without a task state store (Airflow < 3.3) nothing tells a job an earlier try handed off from one
            # it left mid-submit: a task that hands its job off runs a new one, as a clear does with the store.
            return None
        found = service.find(task_labels(context))
        if found is not None and store is not None and found.id == store.get(STATE_HANDED_OFF):
            return None  # a job an earlier run handed off (wait_for_completion=False): a clear runs a new one
        if found is not None:
            found = service.refresh(found.id)  # a launch whose launcher died ends ERROR here, not re-attached
        if found is not None and not found.status.terminal:
            self.log.info("Re-attaching to running job %s found by its task labels", found.id)
            return found
        return None

    def _remember(self, context: Context, record: JobRecord) -> None:
        """Make the job findable: task_state_store (for retries), XCom ``job_id`` and the extra link. Called as
        soon as the job's record exists, before its inputs are uploaded and its image pulled, so ``on_kill``
        can cancel a job that is still being submitted."""
        self._job_id = record.id
        store = task_state_store(context)
        if self.durable and store is not None:
            store.set(STATE_JOB_ID, record.id)
        if self.do_xcom_push:
            context["ti"].xcom_push(key=XCOM_JOB_ID, value=record.id)
        self._persist_link(context, record)

    def _hand_off(self, context: Context, record: JobRecord) -> None:
        """``wait_for_completion=False`` ends the task with the job running: the job now belongs to whoever
        watches it (a sensor), so a later clear of this task starts a new job instead of re-attaching."""
        store = task_state_store(context)
        if self.durable and store is not None:
            store.delete(STATE_JOB_ID)
            store.set(STATE_HANDED_OFF, record.id)

    def _persist_link(self, context: Context, record: JobRecord) -> None:
        self.job_link = self.hook.job_link(record)
        DataSphereJobLink.persist(context, self.job_link)

    def _defer_unless_exited(self, context: Context, service: JobService, job_id: str) -> dict[str, Any]:
        record = service.refresh(job_id)
        if is_exited(record):
            self.log.info("Job %s already stopped (%s); not deferring", job_id, record.status.value)
            record = service.finalize(job_id)
            log_tail(service, job_id, self.log_tail_lines, self.log)
            return self._complete(context, record)
        deadline = self._deadline(context)
        self.log.info("Deferring until job %s stops", job_id)
        self.defer(
            trigger=DataSphereJobTrigger(
                job_id=job_id,
                dsjobs_conn_id=self.dsjobs_conn_id,
                poll_interval=self.poll_interval,
                graceful_cancel=True,
                on_kill_action=self.on_kill_action,
                deadline=deadline,
                stream_logs=self.stream_logs,
                docker_conn_id=self.docker_conn_id or None,
                secret_env_names=self._secret_env_names(),
            ),
            method_name="execute_complete",
            # Airflow's own deferral timeout only fails the task (nothing cancels the job): it comes later than
            # the trigger's deadline, whose ``timeout`` event makes execute_complete cancel the job first.
            timeout=None
            if deadline is None
            else timedelta(seconds=max(0.0, deadline - time.time())) + DEFER_TIMEOUT_PADDING,
        )
        raise AssertionError("defer() returned")  # pragma: no cover - defer always raises TaskDeferred

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resume after the trigger fired: finalize (stage out), show the log tail, return the result."""
        if isinstance(event, Mapping) and event.get("job_id"):
            self._job_id = str(event["job_id"])  # on_kill can cancel it even when the event says "error"
        job_id = watched_job_id(event)
        assert event is not None  # watched_job_id refuses anything but one of the trigger's events
        with job_error_into_airflow(job_id):
            service = self.hook.service
            if event["status"] == "timeout":
                self._cancel_after_timeout()
                raise AirflowTaskTimeout(
                    f"Job {job_id} cancelled: the task's execution_timeout ({self.execution_timeout}) passed "
                    "while it was deferred"
                )
            record = service.finalize(job_id)
            if not event.get("log_streamed"):
                log_tail(service, job_id, self.log_tail_lines, self.log)
            return self._complete(context, record)

    def _deadline(self, context: Context) -> float | None:
        """When ``execution_timeout`` ends, in epoch seconds, counted from the task's start (as the Kubernetes
        pod operator does), not from the deferral."""
        if self.execution_timeout is None:
            return None
        start = getattr(context["ti"], "start_date", None)
        started = start.timestamp() if start is not None else time.time()
        return started + self.execution_timeout.total_seconds()

    def _cancel_after_timeout(self) -> None:
        """The task timed out: cancel the job with its graceful shutdown and collect what it produced."""
        self._cancel_job("Task timed out; cancelling job %s (graceful shutdown, then outputs are collected)", True)

    def _cancel_job(self, message: str, wait: bool) -> None:
        """Cancel this task's job unless ``on_kill_action="keep"``: all the way (``wait``) or only ask."""
        job_id = self._job_id
        if not job_id:
            return
        if self.on_kill_action == "keep":
            self.log.info("Task killed or timed out; job %s keeps running (on_kill_action=keep)", job_id)
            return
        self.log.info(message, job_id)
        service = self.hook.service
        try:
            record = service.cancel(job_id, graceful=True) if wait else service.request_cancel(job_id, graceful=True)
        except JobError as exc:
            self.log.error("Could not cancel job %s: %s", job_id, exc)
            return
        self.log.info("Job %s is %s", job_id, record.status.value)

    def _complete(self, context: Context, record: JobRecord) -> dict[str, Any]:
        """Publish what the job produced, then succeed, skip or fail according to its outcome."""
        store = task_state_store(context)
        if self.durable and store is not None:
            # The job is over: nothing left to re-attach to. Forgetting it makes a user's "clear" run the job
            # again (Airflow keeps task state across clears) while a failed job is resubmitted either way.
            store.delete(STATE_JOB_ID)
        if self.do_xcom_push:
            context["ti"].xcom_push(key=XCOM_OUTPUT_DATASETS, value=dict(record.output_datasets))
            if record.result is not None:
                context["ti"].xcom_push(key=XCOM_RESULT, value=record.result)
        self._persist_link(context, record)
        if record.status == JobStatus.SUCCESS and self.dataset_alias:
            emit_output_datasets(context, self.dataset_alias, record)
        self._lineage_facts = capture_lineage(self.hook, record)
        log_outcome(self.log, record)
        check_outcome(record, self.skip_on_exit_code)
        return job_result(record)

    # -- OpenLineage (the provider calls these when it is installed; lineage/ says what they report) -----------

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """The job's inputs, outputs and facets once the task succeeded (or handed the job off)."""
        from airflow_provider_dsjobs.lineage.task import task_lineage

        return task_lineage(self.hook, self._job_id, self._lineage_facts)

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> OperatorLineage:
        """As on completion, with the job's error (none when the task failed before its job existed)."""
        from airflow_provider_dsjobs.lineage.task import task_lineage

        return task_lineage(self.hook, self._job_id, self._lineage_facts, failed=True)

    def _log_sink(self, stream: str, line: str) -> None:
        log_line(self.log, stream, line)

    def on_kill(self) -> None:
        """Task killed (user action, timeout, worker shutdown): cancel the job unless ``on_kill_action="keep"``.

        Runs inside the SIGTERM handler, which the supervisor follows with SIGKILL a few seconds later, so it
        only sends the graceful-shutdown signal and records CANCELLING. The next reader of the job (a retry of
        this task, a sensor, ``dsjobs get``/``attach``, a trigger) finishes it: kills it past its graceful
        timeout, collects outputs and logs, ends it CANCELLED. A job still being submitted is cancelled too:
        its id is known from the moment its record exists."""
        self._cancel_job("Task killed; cancelling job %s (graceful shutdown signal sent)", False)
