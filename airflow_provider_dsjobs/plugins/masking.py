"""Masking a job's secrets in everything the Jobs page and its API show from the job's output: the log (whole,
tail, followed), ``status_details`` (which may quote a failed build's output) and the s3-mount sync errors.

The values come from ``hooks/job_secrets.py`` (the same ones the worker masked in the task log); each is replaced
by ``***`` with Airflow's own ``SecretsMasker`` (an instance per job, so one job's page never depends on what
another request registered). Logs are masked line by line: a stored log and the engine's stream are both cut
into lines before they get here, so a secret is never split between two chunks by this code. When the secrets
cannot be read, the log is not shown at all (fail closed), as the triggerer does.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping

from airflow_provider_dsjobs.documents.record import JobRecord
from airflow_provider_dsjobs.hooks.job_secrets import connection_secrets, job_secrets
from airflow_provider_dsjobs.jobs.service import JobService
from airflow_provider_dsjobs.runtime.errors import ContainerNotFound

log = logging.getLogger(__name__)

Mask = Callable[[str], str]


class SecretsUnavailable(Exception):
    """The job's secrets cannot be read now: its output must not be shown (the detail went to the server log)."""


def masker_of(values: Iterable[str]) -> Mask:
    """A function that replaces each of ``values`` in a text by ``***`` (Airflow's masker and its rules: values
    shorter than ``[logging] min_length_masked_secret`` are left alone, as in the task log)."""
    from airflow_provider_dsjobs.compat import SecretsMasker, conf

    masker = SecretsMasker()
    masker.min_length_to_mask = conf.getint("logging", "min_length_masked_secret", fallback=5)
    for value in set(values):
        masker.add_mask(value)
    if masker.replacer is None:
        return lambda text: text
    # The longest first, so a secret that starts with another one is masked whole.
    masker.replacer = re.compile("|".join(sorted(masker.patterns, key=len, reverse=True)))

    def mask(text: str) -> str:
        return str(masker.redact(text))

    return mask


def _environment(service: JobService, record: JobRecord) -> Mapping[str, str] | None:
    """The env of the job's container while it exists (the only place left with ``- NAME`` and literal secret
    values); ``None`` once the job is finalized."""
    if record.status.terminal or not record.container_id:
        return None
    try:
        return service.runtime.environment(record.container_id)
    except ContainerNotFound:
        return None


def masker_for(service: JobService, record: JobRecord) -> Mask:
    """The mask of job ``record``'s secrets; ``SecretsUnavailable`` when they cannot be read."""
    try:
        values = job_secrets(service.settings, record, service.store, _environment(service, record))
    except Exception as exc:  # whatever failed, showing the output unmasked is worse
        log.warning("Cannot read the secrets of job %s to mask its output: %s", record.id, exc)
        raise SecretsUnavailable(
            f"job {record.id}: its secrets cannot be read now, so its output is not shown"
        ) from None
    return masker_of(values)


def connection_masker(service: JobService) -> Mask:
    """The mask of the secrets every job of ``service``'s connection shares (for a list of many jobs)."""
    try:
        return masker_of(connection_secrets(service.settings))
    except Exception as exc:  # as above: withhold rather than leak
        log.warning("Cannot read the project secrets of %s to mask job details: %s", service.project, exc)
        raise SecretsUnavailable("the project's secrets cannot be read now, so job details are not shown") from None


def mask_pairs(pairs: Iterable[tuple[str, str]], mask: Mask) -> Iterator[tuple[str, str]]:
    """``(stream, line)`` pairs of a log with every line masked."""
    for stream, line in pairs:
        yield stream, mask(line)


#: What a job's message says in place of its text when the secrets it might quote cannot be read.
WITHHELD = "(not shown: the job's secrets cannot be read now to mask it)"


def fact_cleaner(service: JobService, record: JobRecord | None = None) -> Mask:
    """How a job's own messages (``status_details``, sync errors) are shown: ``record``'s secrets (or, for a list,
    the connection's) masked, the connection's addresses hidden; withheld when the secrets cannot be read."""
    from airflow_provider_dsjobs.plugins.errors import addresses, scrub_fact

    try:
        mask = connection_masker(service) if record is None else masker_for(service, record)
    except SecretsUnavailable:
        return lambda _text: WITHHELD
    known = addresses(service.settings)
    return lambda text: scrub_fact(mask(text), known)
