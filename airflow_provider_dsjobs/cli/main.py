"""``dsjobs``: the command line. Each command family lives in its own module, which exposes
``register(subparsers)`` and gives every subcommand a ``func(args) -> int``.

Exit codes: 0 success; 1 an invalid config, a failed job or an operation error; 2 a usage error;
130 interrupted. A user never sees a Python traceback (``--debug`` shows it for a bug report).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from airflow_provider_dsjobs.cli.errors import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_USAGE, CommandError

#: Modules that register subcommands, in help order. A module that is missing is skipped, so the CLI works
#: while command families are added.
COMMAND_MODULES = (
    "airflow_provider_dsjobs.cli.config_commands",
    "airflow_provider_dsjobs.cli.job_commands",
    "airflow_provider_dsjobs.cli.lab_commands",
    "airflow_provider_dsjobs.cli.env_commands",
    "airflow_provider_dsjobs.cli.resource_commands",
    "airflow_provider_dsjobs.cli.registry_commands",
    "airflow_provider_dsjobs.cli.instance_commands",
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    from airflow_provider_dsjobs import __version__

    parser = _Parser(prog="dsjobs", description="Run DataSphere Jobs config.yaml files in Docker containers.")
    parser.add_argument("--version", action="version", version=f"dsjobs {__version__}")
    parser.add_argument("--debug", action="store_true", help="show Python tracebacks for unexpected errors")
    _official_global_options(parser)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(subparsers)
    version = subparsers.add_parser("version", help="print the version")
    version.set_defaults(func=lambda _args: print(__version__))
    _project_job(subparsers)
    return parser


def _official_global_options(parser: argparse.ArgumentParser) -> None:
    """The official CLI's options before the command, so its scripts run unchanged: ``-l DEBUG`` is ``--debug``;
    the Yandex Cloud token, profile and log files mean nothing here and are accepted and ignored."""
    parser.add_argument("-l", "--log-level", choices=("ERROR", "WARNING", "INFO", "DEBUG"), help=argparse.SUPPRESS)
    for flags in (("-t", "--token"), ("--profile",), ("--log-config",), ("--log-dir",), ("--user-agent",)):
        parser.add_argument(*flags, dest=f"ignored_{flags[-1][2:].replace('-', '_')}", help=argparse.SUPPRESS)


def _project_job(subparsers: Any) -> None:
    """``dsjobs project job <command>``: the official CLI's spelling of the job commands (same options)."""
    from airflow_provider_dsjobs.cli import job_commands

    project = subparsers.add_parser("project", help="the official CLI's form: project job execute|list|get|...")
    families = project.add_subparsers(dest="project_command", metavar="job", parser_class=_Parser, required=True)
    job = families.add_parser("job", help="job commands (as dsjobs <command>)")
    job_commands.register(job.add_subparsers(dest="job_command", metavar="COMMAND", parser_class=_Parser))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.debug = args.debug or args.log_level == "DEBUG"
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(func(args) or 0)
    except CommandError as exc:
        print(f"dsjobs: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("dsjobs: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # the last line of defence: never a traceback unless asked for
        if args.debug:
            traceback.print_exc()
        print(f"dsjobs: unexpected error: {type(exc).__name__}: {exc} (run with --debug for details)", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
