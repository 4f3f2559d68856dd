"""``dsjobs validate`` and ``dsjobs schema`` (handlers in ``config_commands``)."""

from __future__ import annotations

from typing import Any

from airflow_provider_dsjobs.cli.arguments.common import Handler

#: The top-level commands ``register`` adds.
COMMANDS = ("validate", "schema")


def register(subparsers: Any) -> None:
    validate = subparsers.add_parser(
        "validate",
        help="check a config.yaml offline",
        description="Check a config.yaml offline: YAML, schema, variables, paths, sizes. "
        "Exit 0 when valid, 1 when invalid, 2 when the file cannot be read.",
    )
    validate.add_argument("config", metavar="CONFIG", help="path to config.yaml")
    validate.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text: 'CONFIG: valid' and warnings; json: the normalized config (or the problems)",
    )
    validate.set_defaults(func=Handler("config_commands", "run_validate"))

    schema = subparsers.add_parser(
        "schema",
        help="print the config.yaml JSON schema",
        description="Print the JSON schema (Draft 2020-12) of config.yaml, e.g. for yaml-language-server.",
    )
    schema.set_defaults(func=Handler("config_commands", "run_schema"))
