"""``dsjobs validate`` and ``dsjobs schema``: check a config.yaml offline, print the config.yaml JSON schema.

``validate`` touches no network, Docker engine or store. Exit codes: 0 valid, 1 invalid, 2 when the file
cannot be read (or a usage error).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from airflow_provider_dsjobs.cli.errors import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, CommandError
from airflow_provider_dsjobs.config.errors import ConfigError, Problem
from airflow_provider_dsjobs.config.loader import load_config_with_warnings
from airflow_provider_dsjobs.config.model import JobConfig
from airflow_provider_dsjobs.config.schema import schema_text
from airflow_provider_dsjobs.config.serialize import config_json


def run_validate(args: argparse.Namespace) -> int:
    path = args.config
    try:
        config, warnings = load_config_with_warnings(path)
    except ConfigError as exc:
        if args.format == "json":
            print(json.dumps({"valid": False, "problems": [p.to_dict() for p in exc.problems]}, indent=2))
        else:
            for problem in exc.problems:
                print(problem, file=sys.stderr)
            count = len(exc.problems)
            print(f"{path}: invalid ({count} problem{'s' if count != 1 else ''})", file=sys.stderr)
        return EXIT_FAILURE
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise CommandError(f"cannot read config {path}: {reason}", EXIT_USAGE) from None
    warnings = [*warnings, *_env_warnings(config)]
    if args.format == "json":
        print(json.dumps(config_json(config), indent=2, ensure_ascii=False))
        for warning in warnings:
            print(f"warning: {warning}", file=sys.stderr)
    else:
        for warning in warnings:
            print(f"warning: {warning}")
        print(f"{path}: valid")
    return EXIT_OK


def _env_warnings(config: JobConfig) -> list[Problem]:
    """What the job's Python environment would warn of at submit (a fully manual env missing its entry script)."""
    py = config.env.python
    if py is None or not py.fully_manual:
        return []
    from airflow_provider_dsjobs.pyenv.plan import unshipped_entry_scripts  # the analysis stack, only when needed

    found = unshipped_entry_scripts(config, Path(config.base_dir))
    return [Problem(config.source, None, None, "env.python", warning) for warning in found]


def run_schema(args: argparse.Namespace) -> int:
    from airflow_provider_dsjobs.config.instance_types import BUILTIN_CATALOG, default_catalog

    try:
        catalog = default_catalog()
    except ConfigError as exc:
        raise CommandError(f"invalid environment: {'; '.join(str(p) for p in exc.problems)}", EXIT_USAGE) from None
    sys.stdout.write(schema_text(None if catalog is BUILTIN_CATALOG else catalog))
    return EXIT_OK
