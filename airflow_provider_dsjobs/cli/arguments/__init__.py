"""The ``dsjobs`` command line's arguments: one module per command family, each with ``register(subparsers)``.

These modules only describe commands (options, help texts) and import nothing from the core: building the parser
(``dsjobs --help``, the generated CLI reference) stays cheap. A command's handler is named by a ``Handler``, which
imports the ``*_commands`` module that holds it (and through it the core) only when that command runs.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from airflow_provider_dsjobs.cli.arguments import cache, config, env, instances, jobs, lab, registries, resources

#: The families in help order.
FAMILIES = (config, jobs, lab, env, cache, resources, registries, instances)


def register_all(subparsers: Any) -> None:
    for family in FAMILIES:
        family.register(subparsers)


def family_of(command: str) -> ModuleType | None:
    """The family that registers the top-level ``command`` (its ``COMMANDS``), if any."""
    return next((family for family in FAMILIES if command in family.COMMANDS), None)
