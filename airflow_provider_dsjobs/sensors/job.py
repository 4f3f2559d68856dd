"""``DataSphereJobSensor``: wait for a job started elsewhere (e.g. ``wait_for_completion=False``) to finish.

Each poke reads the job's status afresh (``JobService.refresh``), so ``poke`` and ``reschedule`` modes behave the
same: nothing is kept on the instance between pokes. When the job's program has stopped, the sensor finishes
stage-out (``finalize``, idempotent: harmless if someone else already did), shows the log tail and returns the
same result dict as the operator, and publishes one asset event per output dataset of a job that succeeded
(to ``dataset_alias``, like the operator; see ``assets.py``). ``deferrable=True`` waits in the triggerer instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from airflow_provider_dsjobs.assets import DEFAULT_ALIAS, add_alias_outlet, emit_output_datasets
from airflow_provider_dsjobs.compat import conf
from airflow_provider_dsjobs.documents.record import JobStatus
from airflow_provider_dsjobs.hooks.dsjobs import DataSphereJobsHook
from airflow_provider_dsjobs.lineage.task import capture as capture_lineage
from airflow_provider_dsjobs.operators.job_result import (
    DEFAULT_LOG_TAIL,
    XCOM_RESULT,
    check_outcome,
    exit_codes,
    is_exited,
    job_error_into_airflow,
    job_result,
    log_outcome,
    log_tail,
)
from airflow_provider_dsjobs.triggers.job import DataSphereJobTrigger, watched_job_id

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context

    from airflow_provider_dsjobs.lineage.facts import JobFacts


class DataSphereJobSensor(BaseSensorOperator):
    """Succeed when job ``job_id`` succeeds; fail with its reason on ERROR/CANCELLED (no retries: the job
    will not change); skip when its exit code is in ``skip_on_exit_code``.

    :param job_id: the job to watch (templated; e.g. ``{{ ti.xcom_pull(task_ids='launch', key='job_id') }}``).
    :param skip_on_exit_code: exit code(s) that mark the task skipped instead of failed.
    :param deferrable: wait in the triggerer (killing the deferred sensor leaves the job running).
    :param log_tail_lines: lines of the job's output shown once it has stopped.
    :param dataset_alias: asset alias that receives one event per output dataset of the job (None: none).
    :param dsjobs_conn_id: the ``dsjobs`` connection the job was submitted with.
    """

    template_fields: Sequence[str] = ("job_id", "dsjobs_conn_id")

    def __init__(
        self,
        *,
        job_id: str,
        skip_on_exit_code: int | Iterable[int] | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        log_tail_lines: int = DEFAULT_LOG_TAIL,
        dataset_alias: str | None = DEFAULT_ALIAS,
        dsjobs_conn_id: str = DataSphereJobsHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        add_alias_outlet(kwargs, dataset_alias)
        super().__init__(**kwargs)
        self.dataset_alias = dataset_alias
        self.job_id = job_id
        self.skip_on_exit_code = exit_codes(skip_on_exit_code)
        self.deferrable = deferrable
        self.log_tail_lines = log_tail_lines
        self.dsjobs_conn_id = dsjobs_conn_id
        #: What OpenLineage reports of the job, read once it stopped (``lineage/task.py``).
        self._lineage_facts: JobFacts | None = None

    @cached_property
    def hook(self) -> DataSphereJobsHook:
        return DataSphereJobsHook(dsjobs_conn_id=self.dsjobs_conn_id)

    def poke(self, context: Context) -> PokeReturnValue:
        job_id = str(self.job_id)
        with job_error_into_airflow():
            record = self.hook.service.refresh(job_id)
        if not is_exited(record):
            self.log.info("Job %s is %s", job_id, record.status.value)
            return PokeReturnValue(is_done=False)
        return PokeReturnValue(is_done=True, xcom_value=self._finish(context, job_id))

    def _finish(self, context: Context, job_id: str, *, show_tail: bool = True) -> dict[str, Any]:
        service = self.hook.service
        with job_error_into_airflow(job_id):
            record = service.finalize(job_id)
            if show_tail:
                log_tail(service, job_id, self.log_tail_lines, self.log)
        if record.status == JobStatus.SUCCESS and self.dataset_alias:
            emit_output_datasets(context, self.dataset_alias, record)
        self._lineage_facts = capture_lineage(self.hook, record)
        log_outcome(self.log, record)
        check_outcome(record, self.skip_on_exit_code, retry=False)
        if record.result is not None and self.do_xcom_push:
            context["ti"].xcom_push(key=XCOM_RESULT, value=record.result)
        return job_result(record)

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        result = self.poke(context)
        if result.is_done:
            return result.xcom_value
        self.defer(
            trigger=DataSphereJobTrigger(
                job_id=str(self.job_id),
                dsjobs_conn_id=self.dsjobs_conn_id,
                poll_interval=self.poke_interval,
                on_kill_action="keep",
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        job_id = watched_job_id(event)
        assert event is not None  # watched_job_id refuses anything but one of the trigger's events
        return self._finish(context, job_id, show_tail=not event.get("log_streamed"))

    # -- OpenLineage (the provider calls these when it is installed; lineage/ says what they report) -----------

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """The watched job's inputs, outputs and facets."""
        from airflow_provider_dsjobs.lineage.task import task_lineage

        return task_lineage(self.hook, str(self.job_id) if self.job_id else None, self._lineage_facts)

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> OperatorLineage:
        """As on completion, with the job's error."""
        from airflow_provider_dsjobs.lineage.task import task_lineage

        return task_lineage(self.hook, str(self.job_id) if self.job_id else None, self._lineage_facts, failed=True)
