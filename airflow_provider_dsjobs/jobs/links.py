"""Where a person looks at a job: the console URL template from the settings, formatted for one job."""

from __future__ import annotations

import logging

from airflow_provider_dsjobs.documents.record import JobRecord
from airflow_provider_dsjobs.settings import Settings

log = logging.getLogger(__name__)


def console_link(settings: Settings, record: JobRecord) -> str | None:
    """``settings.console_url_template`` (``DSJOBS_CONSOLE_URL`` or the connection's field) with ``{job_id}`` and
    ``{project}`` filled in; ``None`` when no template is set or it names other fields (logged, not raised)."""
    template = settings.console_url_template
    if not template:
        return None
    try:
        return template.format(job_id=record.id, project=record.project)
    except (KeyError, IndexError, ValueError) as exc:
        log.warning("ignoring the console URL template %r: %s (use {job_id} and {project})", template, exc)
        return None
