"""Secrets masked in a job's stored log: the values of its container's secret env vars.

A job's log is stored when it is finalized (``jobs/stage_out.py``), and after that its container, the only place
that held the values of ``- NAME`` env vars, is gone: whoever reads the stored log later (``dsjobs logs``, the Jobs
page) could no longer find them to mask. So the finalizer reads them from the container first and the stored log
holds ``***`` in their place.

Which vars are secret: those the plan named (``PlanDoc.secret_env``: the project's secrets, the names a DAG author
listed in ``secret_env_vars``, and names that look sensitive) and, for plans written before that field, every var
whose name looks sensitive (``config.redact.is_sensitive_name``, Airflow's masker rule).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from airflow_provider_dsjobs.config.redact import is_sensitive_name

#: Shorter values are left alone, as Airflow's ``[logging] min_length_masked_secret`` (5) does in task logs:
#: masking ``1`` or ``eu`` everywhere would make the log unreadable and hide nothing.
MIN_MASKED_LENGTH = 5


def secret_env_values(env: Mapping[str, str], names: Collection[str]) -> frozenset[str]:
    """The values of ``env`` under ``names`` or under a sensitive-looking name, long enough to mask."""
    return frozenset(
        value
        for name, value in env.items()
        if (name in names or is_sensitive_name(name)) and len(value) >= MIN_MASKED_LENGTH
    )
