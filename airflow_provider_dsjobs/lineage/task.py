"""The lineage a task reports when the OpenLineage provider asks: its job's, or none before the job exists.

Shared by ``JobOperatorBase`` and ``DataSphereJobSensor``; imports OpenLineage only when called. Lineage never
fails a task: a job whose documents cannot be read gives an empty lineage and a warning.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

    from airflow_provider_dsjobs.hooks.dsjobs import DataSphereJobsHook

log = logging.getLogger(__name__)


def task_lineage(hook: DataSphereJobsHook, job_id: str | None, *, failed: bool = False) -> OperatorLineage:
    """``OperatorLineage`` of job ``job_id`` (empty when None: the task ended before its job existed)."""
    from airflow.providers.openlineage.extractors import OperatorLineage

    from airflow_provider_dsjobs.jobs.errors import JobError
    from airflow_provider_dsjobs.lineage.facts import job_facts
    from airflow_provider_dsjobs.lineage.openlineage import operator_lineage
    from airflow_provider_dsjobs.storage.base import StoreError

    if not job_id:
        return OperatorLineage()
    try:
        facts = job_facts(hook.service, job_id, hook.job_link)
    except (JobError, StoreError, OSError) as exc:
        log.warning("OpenLineage: job %s cannot be read for its lineage: %s", job_id, exc)
        return OperatorLineage()
    return operator_lineage(facts, failed=failed)
