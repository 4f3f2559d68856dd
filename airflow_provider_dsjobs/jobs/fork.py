"""Fork: the config of a stored job, re-loaded and with the caller's overrides applied (DataSphere's ``fork``).

``vars`` names input and output variables alike: one declared as an input variable replaces that input's
path; any other must be a declared output variable (else ``No variable path in source job: NAME``).
``JobService.fork`` submits the result as a new job whose ``parent_job_id`` is the source.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from airflow_provider_dsjobs.config import ConfigError, load_config_text
from airflow_provider_dsjobs.config.model import JobConfig
from airflow_provider_dsjobs.config.overrides import Overrides, env_from_environ
from airflow_provider_dsjobs.config.redact import redacted_env_names
from airflow_provider_dsjobs.jobs.errors import JobError
from airflow_provider_dsjobs.jobs.record import JobRecord


def fork_config(
    source: JobRecord, overrides: Overrides | None = None, *, environ: Mapping[str, str] | None = None
) -> JobConfig:
    """The source job's config with the overrides, as it is submitted (``Overrides.submitted_config``: the
    job gets env-var override values from ``overrides.environ``); ``JobError`` when it cannot be forked or an
    override is bad.

    Secret env values the record does not keep (see ``config.redact``) come from the overrides or, as
    ``- NAME`` entries, from ``environ`` (default ``os.environ``) when the fork is submitted."""
    job_id = source.id
    if source.data_cleared:
        raise JobError("fork is unavailable - source job data is cleared")
    if not source.raw_config:
        raise JobError(f"job {job_id} has no stored config to fork")
    over = overrides or Overrides()
    base_dir = Path(source.base_dir or ".")
    try:
        config = load_config_text(source.raw_config, base_dir=base_dir, source=f"job {job_id} config")
        declared = {e.var for e in (*config.inputs, *config.outputs) if e.var}
        unknown = [k for k in (over.vars or {}) if k not in declared]
        if unknown:
            raise JobError(f"No variable path in source job: {unknown[0]}")
        config = _redacted_env_from_environ(
            config, job_id, over.env_vars or {}, os.environ if environ is None else environ
        )
        return over.submitted_config(config)
    except ConfigError as exc:
        raise JobError(str(exc)) from None


def _redacted_env_from_environ(
    config: JobConfig, job_id: str, overrides: Mapping[str, str], environ: Mapping[str, str]
) -> JobConfig:
    """The config with each redacted env var taken from the environment (overridden ones are left to the
    override); ``JobError`` naming those that neither gives."""

    redacted = [name for name in redacted_env_names(config) if name not in overrides]
    if not redacted:
        return config
    missing = [name for name in redacted if name not in environ]
    if missing:
        names = ", ".join(missing)
        raise JobError(
            f"job {job_id} does not keep the value of env var {names} (it looks like a secret): set it in the "
            f"environment or pass it with --env-var {missing[0]}=VALUE"
        )
    return env_from_environ(config, redacted)
