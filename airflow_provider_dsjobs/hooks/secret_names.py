"""Which env var names hold secrets in the Airflow path: the secret masker's own rule.

The task, the triggerer and the Jobs page decide which env values to mask with
``should_hide_value_for_key`` of Airflow's secret masker, so Airflow's sensitive names and the ones a
deployment adds with ``[core] sensitive_var_conn_names`` (``AIRFLOW__CORE__SENSITIVE_VAR_CONN_NAMES``) are
masked, and ``[core] hide_sensitive_var_conn_fields = False`` turns the rule off as it does for Airflow.
Names that only look secret (``TOKENIZERS_PARALLELISM``, see ``config.redact``) stay readable.

The Airflow-free core keeps its own rule (``config.redact.is_sensitive_name``) for job records.
"""

from __future__ import annotations

from airflow_provider_dsjobs.compat import should_hide_value_for_key
from airflow_provider_dsjobs.config.redact import NOT_SENSITIVE_PARTS


def is_secret_env_name(name: str) -> bool:
    """Whether Airflow's secret masker deems the value of an env var called ``name`` secret."""
    lowered = name.lower()
    for part in NOT_SENSITIVE_PARTS:
        lowered = lowered.replace(part, "")
    return bool(should_hide_value_for_key(lowered))
