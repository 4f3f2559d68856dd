"""The lineage a task reports when the OpenLineage provider asks: its job's, or none before the job exists.

Shared by ``JobOperatorBase`` and ``DataSphereJobSensor``. The task reads its job's facts itself (``capture``), as
soon as its job's record is final for the task, when OpenLineage is on: the provider asks for lineage in a process
it forks off the task, where Airflow connections (an s3-mount's, say) cannot be looked up and a slow store read
runs into the provider's ``execution_timeout``. Without captured facts (the task failed before it could) the
facts are read there, at the provider's request. Lineage never fails a task: what cannot be read gives an empty
lineage and a warning. OpenLineage is imported only when it is installed and asked for.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

    from airflow_provider_dsjobs.documents.record import JobRecord
    from airflow_provider_dsjobs.hooks.dsjobs import DataSphereJobsHook
    from airflow_provider_dsjobs.lineage.facts import JobFacts

log = logging.getLogger(__name__)


def lineage_enabled() -> bool:
    """Whether the OpenLineage provider is installed and on (it has a transport and is not disabled)."""
    try:
        from airflow.providers.openlineage import conf
    except ImportError:
        return False
    return not conf.is_disabled()


def capture(hook: DataSphereJobsHook, record: JobRecord) -> JobFacts | None:
    """The facts of ``record``'s job, read by the task itself; None when OpenLineage is off or they cannot be read."""
    if not lineage_enabled():
        return None
    from airflow_provider_dsjobs.lineage.facts import facts_of

    try:
        return facts_of(hook.service, record, hook.job_link)
    except Exception as exc:  # lineage must never fail the task whose job it describes
        log.warning("OpenLineage: the lineage of job %s cannot be read: %s", record.id, exc)
        return None


def task_lineage(
    hook: DataSphereJobsHook, job_id: str | None, facts: JobFacts | None = None, *, failed: bool = False
) -> OperatorLineage:
    """``OperatorLineage`` from the captured ``facts``, else read for job ``job_id``; empty without either (the
    task ended before its job existed)."""
    from airflow.providers.openlineage.extractors import OperatorLineage

    from airflow_provider_dsjobs.lineage.facts import job_facts
    from airflow_provider_dsjobs.lineage.openlineage import operator_lineage

    if facts is None and job_id:
        try:
            facts = job_facts(hook.service, job_id, hook.job_link)
        except Exception as exc:  # lineage must never fail the task whose job it describes
            log.warning("OpenLineage: job %s cannot be read for its lineage: %s", job_id, exc)
    if facts is None:
        return OperatorLineage()
    return operator_lineage(facts, failed=failed)
