"""``dsjobs env ls|clear|build`` and ``dsjobs generate-requirements`` (handlers in ``env_commands``; ``env build``
is a lab command)."""

from __future__ import annotations

from typing import Any

from airflow_provider_dsjobs.cli.arguments.common import Handler
from airflow_provider_dsjobs.cli.arguments.lab import register_env_build

#: The top-level commands ``register`` adds.
COMMANDS = ("env", "generate-requirements")


def register(subparsers: Any) -> None:
    env = subparsers.add_parser("env", help="manage cached Python environments (Docker volumes)")
    env_sub = env.add_subparsers(dest="env_command", metavar="COMMAND", required=True)
    ls = env_sub.add_parser("ls", help="list cached Python environments")
    ls.add_argument("--format", choices=("table", "json"), default="table")
    ls.add_argument("--size", action="store_true", help="also show disk usage (measures every volume; slower)")
    ls.set_defaults(func=Handler("env_commands", "env_ls"))
    clear = env_sub.add_parser("clear", help="remove cached Python environments")
    clear.add_argument("--hash", metavar="H", help="remove the environment whose hash starts with H")
    clear.add_argument("--all", action="store_true", help="remove every cached environment not in use")
    clear.set_defaults(func=Handler("env_commands", "env_clear"))
    register_env_build(env_sub)

    gen = subparsers.add_parser(
        "generate-requirements",
        help="print the pinned requirements auto mode would install for SCRIPT...",
        description="Analyse the imports of the scripts statically (nothing is run) and print pinned "
        "requirements from this Python environment (or --python-interpreter's), as env.python: auto would "
        "install them.",
    )
    gen.add_argument("scripts", nargs="+", metavar="SCRIPT")
    gen.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")
    gen.add_argument(
        "--python-interpreter",
        metavar="PATH",
        help="interpreter or virtualenv whose installed packages pin the imports; it is not run "
        "(DSJOBS_PYTHON_INTERPRETER; default: the one running dsjobs)",
    )
    gen.set_defaults(func=Handler("env_commands", "generate_requirements"))
