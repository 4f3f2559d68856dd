"""Task failures the provider raises, typed so Airflow 3.3 retry policies (``ExceptionRetryPolicy``) and
callbacks can tell them apart. All are ``AirflowException`` (ordinary retries apply) except the ``*Final``
variants, which are also ``AirflowFailException`` (no retries: the sensor's view of a job that will not change).
An invalid config is always a plain ``AirflowFailException``.
"""

from __future__ import annotations

from airflow_provider_dsjobs.compat import AirflowException, AirflowFailException


class DataSphereJobError(AirflowException):
    """Base of the provider's job failures; ``job_id`` is the job concerned (None if it was never created)."""

    def __init__(self, message: str, *, job_id: str | None = None) -> None:
        super().__init__(message)
        self.job_id = job_id


class DataSphereJobFailed(DataSphereJobError):
    """The job's program ended with an error; ``exit_code`` is its exit code (None if it never ran)."""

    def __init__(self, message: str, *, job_id: str | None = None, exit_code: int | None = None) -> None:
        super().__init__(message, job_id=job_id)
        self.exit_code = exit_code


class DataSphereJobCancelled(DataSphereJobError):
    """The job was cancelled (by a user, ``on_kill`` or a timeout) before it finished."""


class DataSphereInfrastructureError(DataSphereJobError):
    """The store or the Docker engine could not be reached or failed: the job may be fine, a retry may help."""


class DataSphereJobFailedFinal(DataSphereJobFailed, AirflowFailException):
    """``DataSphereJobFailed`` that fails the task without retries."""


class DataSphereJobCancelledFinal(DataSphereJobCancelled, AirflowFailException):
    """``DataSphereJobCancelled`` that fails the task without retries."""
