"""config.yaml: its schema, loader and typed model.

``load_config(path)``, ``load_config_text(text)`` and ``config_from_mapping(data)`` return a validated
:class:`JobConfig` or raise :class:`ConfigError` listing every :class:`Problem` found. The ``*_with_warnings``
variants also return the warnings (which are logged on ``airflow_provider_dsjobs.config`` in any case).
``Overrides`` / ``apply_overrides`` re-run a config with fork-like changes; ``load_schema`` gives the JSON schema.
"""

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
from .overrides import Overrides, apply_overrides
from .schema import load_schema
from .units import parse_duration, parse_size

__all__ = [
    "ConfigError",
    "JobConfig",
    "Overrides",
    "Problem",
    "apply_overrides",
    "config_from_mapping",
    "config_from_mapping_with_warnings",
    "load_config",
    "load_config_text",
    "load_config_text_with_warnings",
    "load_config_with_warnings",
    "load_schema",
    "parse_duration",
    "parse_size",
]
