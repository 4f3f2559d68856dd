"""``dsjobs``: the command line. Each command family's arguments live in a module of ``cli/arguments/`` with
``register(subparsers)``; its handlers (``func(args) -> int``) live in a ``*_commands`` module, imported with the
core only when one of its commands runs, so ``dsjobs --help`` and ``dsjobs validate`` start fast.

Exit codes: 0 success; 1 an invalid config, a failed job or an operation error; 2 a usage error;
130 interrupted. A user never sees a Python traceback (``--debug`` shows it for a bug report).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from airflow_provider_dsjobs.cli.errors import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, CommandError

__all__ = ["EXIT_FAILURE", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "CommandError", "build_parser", "main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


class _NotParsed(Exception):
    """The narrow parser of one command family could not parse the arguments: the whole parser parses them."""


class _FamilyParser(_Parser):
    """A parser holding only the family of the command being run: it raises ``_NotParsed`` instead of reporting a
    usage error, so every error is reported by the whole parser, word for word as before."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise _NotParsed(message)


#: The official CLI's options before the command that take a value (accepted and ignored, except ``-l``).
_IGNORED_OPTIONS = (("-t", "--token"), ("--profile",), ("--log-config",), ("--log-dir",), ("--user-agent",))
_VALUED_OPTIONS = frozenset({"-l", "--log-level", *(flag for flags in _IGNORED_OPTIONS for flag in flags)})


def build_parser() -> argparse.ArgumentParser:
    """The whole ``dsjobs`` parser (every command, option and help text); building it imports no command handler."""
    return _build(_Parser, None)


def _build(parser_class: type[_Parser], command: str | None) -> argparse.ArgumentParser:
    """The parser with every command, or (``command`` given) only the family that holds ``command``."""
    from airflow_provider_dsjobs import __version__
    from airflow_provider_dsjobs.cli.arguments import FAMILIES, family_of

    parser = parser_class(prog="dsjobs", description="Run DataSphere Jobs config.yaml files in Docker containers.")
    parser.add_argument("--version", action="version", version=f"dsjobs {__version__}")
    parser.add_argument("--debug", action="store_true", help="show Python tracebacks for unexpected errors")
    _official_global_options(parser)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=parser_class)
    family = None if command is None else family_of(command)
    for module in FAMILIES if command is None else ([family] if family else []):
        module.register(subparsers)
    if command is None or command == "version":
        version = subparsers.add_parser("version", help="print the version")
        version.set_defaults(func=_print_version)
    if command is None or command == "project":
        _project_job(subparsers, parser_class)
    return parser


def _print_version(_args: argparse.Namespace) -> int:
    from airflow_provider_dsjobs import __version__

    print(__version__)
    return EXIT_OK


def _official_global_options(parser: argparse.ArgumentParser) -> None:
    """The official CLI's options before the command, so its scripts run unchanged: ``-l DEBUG`` is ``--debug``;
    the Yandex Cloud token, profile and log files mean nothing here and are accepted and ignored."""
    parser.add_argument("-l", "--log-level", choices=("ERROR", "WARNING", "INFO", "DEBUG"), help=argparse.SUPPRESS)
    for flags in _IGNORED_OPTIONS:
        parser.add_argument(*flags, dest=f"ignored_{flags[-1][2:].replace('-', '_')}", help=argparse.SUPPRESS)


def _project_job(subparsers: Any, parser_class: type[_Parser]) -> None:
    """``dsjobs project job <command>``: the official CLI's spelling of the job commands (same options)."""
    from airflow_provider_dsjobs.cli.arguments import jobs

    project = subparsers.add_parser("project", help="the official CLI's form: project job execute|list|get|...")
    families = project.add_subparsers(dest="project_command", metavar="job", parser_class=parser_class, required=True)
    job = families.add_parser("job", help="job commands (as dsjobs <command>)")
    jobs.register(job.add_subparsers(dest="job_command", metavar="COMMAND", parser_class=parser_class))


def _command_word(argv: Sequence[str]) -> str | None:
    """The command ``argv`` runs, when every option before it is a global option spelled out in full (no
    ``-h``, no abbreviation): else None, and the whole parser reads ``argv``."""
    index = 0
    while index < len(argv):
        token = argv[index]
        if not token.startswith("-"):
            return token
        name, equals, _ = token.partition("=")
        if name == "--debug" and not equals:
            index += 1
        elif name in _VALUED_OPTIONS:
            index += 1 if equals else 2
        else:
            return None
    return None


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """``argv`` parsed as the whole parser would. Building the whole parser costs more than a command like
    ``validate`` takes to run, so the parser of the command's family is tried first; anything it cannot parse
    (or a command it does not know) goes to the whole parser, which reports the error."""
    command = _command_word(argv)
    if command is not None:
        try:
            return _build(_FamilyParser, command).parse_args(argv)
        except _NotParsed:
            pass
    return build_parser().parse_args(argv)


#: Libraries jsonschema imports only to check string ``format``s (dates, durations, host names, ...). The config
#: schema has no ``format`` keyword and its validator has no format checker, so they can never change a result;
#: importing them (arrow, isoduration, ...) is about a sixth of ``dsjobs validate``'s start. ``tests/cli`` checks
#: that the schema still has no ``format`` and that validate reports the same with and without them.
_FORMAT_CHECKER_LIBRARIES = (
    "fqdn", "idna", "rfc3987", "rfc3987_syntax", "rfc3986_validator", "rfc3339_validator", "webcolors", "jsonpointer",
    "uri_template", "isoduration",
)  # fmt: skip
#: The commands that only read config files and the schema: the format libraries are left out of their process.
_SCHEMA_ONLY_COMMANDS = ("validate", "schema")


@contextlib.contextmanager
def _without_format_checkers(applies: bool) -> Iterator[None]:
    """While ``applies``: the format-only libraries not imported yet look absent to the import system (a
    ``None`` in ``sys.modules``), as if not installed; afterwards they can be imported again."""
    hidden = [name for name in _FORMAT_CHECKER_LIBRARIES if applies and name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        for name in hidden:
            if sys.modules.get(name, False) is None:
                del sys.modules[name]


def main(argv: Sequence[str] | None = None) -> int:
    # Only a process started as ``dsjobs`` leaves the format libraries out; a caller's own process never.
    own_process = argv is None
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    args.debug = args.debug or args.log_level == "DEBUG"
    func = getattr(args, "func", None)
    if func is None:
        build_parser().print_help(sys.stderr)
        return EXIT_USAGE
    try:
        with _without_format_checkers(own_process and args.command in _SCHEMA_ONLY_COMMANDS):
            return int(func(args) or 0)
    except CommandError as exc:
        print(f"dsjobs: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("dsjobs: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # the last line of defence: never a traceback unless asked for
        if args.debug:
            import traceback  # only for a bug report

            traceback.print_exc()
        print(f"dsjobs: unexpected error: {type(exc).__name__}: {exc} (run with --debug for details)", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
