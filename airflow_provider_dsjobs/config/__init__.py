"""config.yaml: its schema, loader and typed model.

``load_config(path)``, ``load_config_text(text)`` and ``config_from_mapping(data)`` return a validated
:class:`JobConfig` or raise :class:`ConfigError` listing every :class:`Problem` found.
"""

import logging

from .errors import ConfigError, Problem
from .loader import (
    config_from_mapping,
    config_from_mapping_with_warnings,
    load_config,
    load_config_text,
    load_config_text_with_warnings,
    load_config_with_warnings,
)
from .model import JobConfig

__all__ = [
    "ConfigError",
    "JobConfig",
    "Problem",
    "config_from_mapping",
    "config_from_mapping_with_warnings",
    "load_config",
    "load_config_text",
    "load_config_text_with_warnings",
    "load_config_with_warnings",
]

# A library does not print: warnings reach the application's handlers (Airflow's task log, the CLI) only.
logging.getLogger("airflow_provider_dsjobs.config").addHandler(logging.NullHandler())
