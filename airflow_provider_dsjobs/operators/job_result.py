"""What operator, sensor and deferred resume do with a finished job: one result shape, one outcome rule."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from airflow_provider_dsjobs.compat import AirflowException, AirflowFailException, AirflowSkipException
from airflow_provider_dsjobs.documents.record import JobRecord, JobStatus
from airflow_provider_dsjobs.exceptions import (
    DataSphereInfrastructureError,
    DataSphereJobCancelled,
    DataSphereJobCancelledFinal,
    DataSphereJobFailed,
    DataSphereJobFailedFinal,
)
from airflow_provider_dsjobs.jobs.errors import InfrastructureError, JobConfigError
from airflow_provider_dsjobs.jobs.service import JobError, JobService

#: XCom keys pushed besides ``return_value``.
XCOM_JOB_ID = "job_id"
XCOM_OUTPUT_DATASETS = "output_datasets"
#: What the job wrote to ``DSJOBS_RESULT_FILE`` (pushed only when it wrote something).
XCOM_RESULT = "result"
#: task_state_store key holding the job id across retries (renaming it breaks in-flight retries).
STATE_JOB_ID = "dsjobs_job_id"
#: task_state_store key of the job a ``wait_for_completion=False`` task handed off (never re-attached by labels).
STATE_HANDED_OFF = "dsjobs_handed_off_job_id"
#: Lines of the job's log shown when a task picks up a job it did not watch (deferral resume, sensor).
DEFAULT_LOG_TAIL = 100


@contextmanager
def job_error_into_airflow(job_id: str | None = None) -> Iterator[None]:
    """Turn the core's one-line ``JobError`` into a task failure that shows just that line: a store or engine
    failure is ``DataSphereInfrastructureError`` (retries apply), a config that cannot run fails at once
    (``AirflowFailException``), anything else is ``AirflowException``."""
    try:
        yield
    except InfrastructureError as exc:
        raise DataSphereInfrastructureError(str(exc), job_id=job_id) from None
    except JobConfigError as exc:
        raise AirflowFailException(str(exc)) from None
    except JobError as exc:
        raise AirflowException(str(exc)) from None


def job_result(record: JobRecord) -> dict[str, Any]:
    """The task's ``return_value``: JSON-serializable, no secrets."""
    return {
        "job_id": record.id,
        "status": record.status.value,
        "return_code": record.return_code,
        "outputs": dict(record.outputs),
        "output_datasets": dict(record.output_datasets),
        "logs": record.logs,
        "result": record.result,
    }


def exit_codes(value: int | Iterable[int] | None) -> frozenset[int]:
    """``skip_on_exit_code`` as a set (an int, any iterable of ints, or None)."""
    if value is None:
        return frozenset()
    if isinstance(value, int):
        return frozenset({value})
    return frozenset(int(v) for v in value)


def job_failure_message(record: JobRecord) -> str:
    detail = record.status_details or (
        f"exit code {record.return_code}" if record.return_code is not None else "no details"
    )
    return f"Job {record.id} ended {record.status.value}: {detail}"


def check_outcome(record: JobRecord, skip_on_exit_code: frozenset[int], *, retry: bool = True) -> None:
    """Raise unless the job succeeded: skip when its exit code is listed, else ``DataSphereJobFailed`` (with the
    exit code) or ``DataSphereJobCancelled`` with the reason; ``retry=False`` raises their ``*Final`` variants.

    Only a job that ran to the end (SUCCESS or ERROR) is skipped by exit code; a cancelled job always fails."""
    if not record.status.terminal:
        raise AirflowException(f"Job {record.id} is not finished (status {record.status.value})")
    if (
        record.status in (JobStatus.SUCCESS, JobStatus.ERROR)
        and record.return_code is not None
        and record.return_code in skip_on_exit_code
    ):
        raise AirflowSkipException(f"Job {record.id} exited with code {record.return_code} (in skip_on_exit_code)")
    if record.status == JobStatus.CANCELLED:
        raise (DataSphereJobCancelled if retry else DataSphereJobCancelledFinal)(
            job_failure_message(record), job_id=record.id
        )
    if record.status != JobStatus.SUCCESS:
        raise (DataSphereJobFailed if retry else DataSphereJobFailedFinal)(
            job_failure_message(record), job_id=record.id, exit_code=record.return_code
        )


def is_exited(record: JobRecord) -> bool:
    """The job's program has stopped: terminal, or exited and waiting for stage-out (``refresh`` semantics)."""
    return record.status.terminal or record.status == JobStatus.UPLOADING_OUTPUT


def log_tail(service: JobService, job_id: str, lines: int, log: Any) -> None:
    """Show the last ``lines`` lines of the job's output in the task log (bounded: a tail, streamed)."""
    if lines <= 0:
        return
    log.info("Last %d lines of job %s output:", lines, job_id)
    for stream, line in service.logs(job_id, tail=lines):
        log_line(log, stream, line)


def log_outcome(log: Any, record: JobRecord) -> None:
    """The job's end state and where its results are, in the task log."""
    log.info("Job %s ended %s (exit code %s)", record.id, record.status.value, record.return_code)
    for name, uri in sorted(record.outputs.items()):
        log.info("Output %s: %s", name, uri)
    for name, dataset_id in sorted(record.output_datasets.items()):
        log.info("Output dataset %s: %s", name, dataset_id)
    for synced in record.s3_sync:  # read-write s3-mounts (jobs/s3_sync.py)
        (log.warning if synced.error else log.info)("%s", synced.describe())
    if record.logs:
        log.info("Job log: %s", record.logs)


def log_line(log: Any, stream: str, line: str) -> None:
    """One line of job output in the task log; lines not from stdout are tagged with their stream."""
    if stream == "stdout":
        log.info("%s", line)
    else:
        log.info("[%s] %s", stream, line)
