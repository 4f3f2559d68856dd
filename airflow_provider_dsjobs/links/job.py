"""The "DataSphere Job" extra link.

Airflow 3 computes links on the worker when a task ends and stores them in XCom under the link's ``xcom_key``.
``persist`` writes the job's link under that same key as soon as the job exists, so the button works while the
job runs (and while the task is deferred); ``get_link`` reads it back when the task ends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperatorLink
from airflow.sdk.execution_time.xcom import XCom

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey


_UNKNOWN = object()


class DataSphereJobLink(BaseOperatorLink):
    """Links a task to its job: the connection's console URL template formatted with ``{job_id}``/``{project}``,
    or the URI of the job's stored log."""

    name = "DataSphere Job"

    @classmethod
    def persist(cls, context: Any, url: str | None) -> None:
        """Store ``url`` for this task instance (``context["ti"]``); nothing to do without a URL."""
        if url:
            context["ti"].xcom_push(key=cls().xcom_key, value=url)

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        # The operator that just ran knows its link (or that it has none: the task failed before the job
        # existed), which spares a lookup of an XCom that may not exist.
        known = getattr(operator, "job_link", _UNKNOWN)
        if known is not _UNKNOWN:
            return str(known or "")
        value = XCom.get_value(key=self.xcom_key, ti_key=ti_key)
        return str(value) if value else ""
