"""Fork: a stored job run again from the data it stored, with the caller's overrides (DataSphere's ``fork``).

The new job is built from the source job's stored config, its input blobs and trees by hash (``JobRecord.inputs``)
and its Python environment as planned (``plan.json``), so it runs the same content whether the source's files
were edited or deleted since, and from any machine that reaches the same store. Only an input whose path a
``--var`` override replaces is read locally (a relative path resolves against the source's config directory).

``vars`` names input and output variables alike: one declared as an input variable replaces that input's
path; any other must be a declared output variable (else ``No variable path in source job: NAME``).
``JobService.fork`` submits the result as a new job whose ``parent_job_id`` is the source.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from airflow_provider_dsjobs.config import ConfigError, load_config_text
from airflow_provider_dsjobs.config.instance_types import InstanceCatalog
from airflow_provider_dsjobs.config.model import JobConfig
from airflow_provider_dsjobs.config.overrides import Overrides, env_from_environ
from airflow_provider_dsjobs.config.redact import redacted_env_names
from airflow_provider_dsjobs.documents.plan_doc import PythonSetup
from airflow_provider_dsjobs.documents.record import ROLE_PYTHON_MODULE, InputRef, JobRecord
from airflow_provider_dsjobs.jobs.errors import JobError
from airflow_provider_dsjobs.jobs.plan import Reuse, StoredInput


@dataclass(frozen=True)
class ForkedJob:
    """What ``JobService.fork`` submits: the config with the overrides and what it reuses from the store."""

    config: JobConfig
    reuse: Reuse


def fork_config(
    source: JobRecord,
    overrides: Overrides | None = None,
    python: PythonSetup | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    catalog: InstanceCatalog | None = None,
) -> ForkedJob:
    """The source job's config with the overrides, as it is submitted (``Overrides.submitted_config``: the job
    gets env-var override values from ``overrides.environ``), and its stored inputs; ``JobError`` when it cannot
    be forked or an override is bad. ``python`` is the source's Python environment (its ``plan.json``).

    Secret env values the record does not keep (see ``config.redact``) come from the overrides or, as
    ``- NAME`` entries, from ``environ`` (default ``os.environ``) when the fork is submitted."""
    job_id = source.id
    if not source.raw_config:
        raise JobError(f"job {job_id} has no stored config to fork")
    over = overrides or Overrides()
    base_dir = Path(source.base_dir or ".")
    try:
        config = load_config_text(
            source.raw_config, base_dir=base_dir, source=f"job {job_id} config", check_files=False, catalog=catalog
        )
        declared = {e.var for e in (*config.inputs, *config.outputs) if e.var}
        unknown = [k for k in (over.vars or {}) if k not in declared]
        if unknown:
            raise JobError(f"No variable path in source job: {unknown[0]}")
        if over.image is not None and python is not None:
            raise JobError(
                f"job {job_id} has a Python environment built for image {python.image}: its image cannot be "
                "overridden (fork without --docker-image-url, or submit the config again)"
            )
        overridden = set(over.resolve_vars(config).input_vars or {})
        config = _redacted_env_from_environ(
            config, job_id, over.env_vars or {}, os.environ if environ is None else environ, catalog
        )
        submitted = over.submitted_config(config, check_files=False, catalog=catalog)
        return ForkedJob(submitted, _reuse(source, overridden, python))
    except ConfigError as exc:
        raise JobError(str(exc)) from None


def _stored_input(ref: InputRef) -> StoredInput:
    return StoredInput(ref.kind, ref.sha256, ref.size, ref.mode)


def _reuse(source: JobRecord, overridden_vars: set[str], python: PythonSetup | None) -> Reuse:
    """The source's inputs by ``(path, var)`` except those an override replaces, and its Python environment
    with the local modules it shipped (None for a job stored before ``plan.json`` kept it: planned again)."""
    inputs: dict[tuple[str, str | None], StoredInput] = {}
    modules: list[tuple[str, StoredInput]] = []
    for ref in source.inputs:
        if ref.role == ROLE_PYTHON_MODULE:
            if ref.container_path:
                modules.append((ref.container_path, _stored_input(ref)))
        elif ref.var not in overridden_vars:
            inputs[(ref.path, ref.var)] = _stored_input(ref)
    if python is None or len(modules) != sum(1 for r in source.inputs if r.role == ROLE_PYTHON_MODULE):
        return Reuse(inputs)
    return Reuse(inputs, python, tuple(modules))


def _redacted_env_from_environ(
    config: JobConfig,
    job_id: str,
    overrides: Mapping[str, str],
    environ: Mapping[str, str],
    catalog: InstanceCatalog | None,
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
    return env_from_environ(config, redacted, check_files=False, catalog=catalog)
