"""``dsjobs instance-types`` (handler in ``instance_commands``)."""

from __future__ import annotations

from typing import Any

from airflow_provider_dsjobs.cli.arguments.common import Handler, common

#: The top-level commands ``register`` adds.
COMMANDS = ("instance-types",)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("instance-types", help="list the instance types and what the engine can give now")
    p.add_argument("--format", choices=("table", "json"), default="table", help="output format")
    common(p)
    p.set_defaults(func=Handler("instance_commands", "cmd_instance_types"))
