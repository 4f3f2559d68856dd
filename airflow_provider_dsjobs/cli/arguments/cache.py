"""``dsjobs cache ls`` (handler in ``cache_commands``): the engine's cache volumes."""

from __future__ import annotations

from typing import Any

from airflow_provider_dsjobs.cli.arguments.common import Handler

#: The top-level commands ``register`` adds.
COMMANDS = ("cache",)


def register(subparsers: Any) -> None:
    cache = subparsers.add_parser("cache", help="engine cache volumes: ls")
    commands = cache.add_subparsers(dest="cache_command", metavar="COMMAND", required=True)
    ls = commands.add_parser("ls", help="list the cache volumes on the engine: kind, project, size, last use, in use")
    ls.add_argument("--format", choices=("table", "json"), default="table", help="output format (default: table)")
    ls.add_argument("--store", metavar="URL", help="object store holding the last-use records (DSJOBS_STORE)")
    ls.add_argument("--docker-url", metavar="URL", help="Docker engine (DSJOBS_DOCKER_URL / DOCKER_HOST)")
    ls.add_argument(
        "-p", "--project", dest="only_project", help="only this project's caches (default: every project's)"
    )
    ls.set_defaults(func=Handler("cache_commands", "cmd_cache_ls"))
