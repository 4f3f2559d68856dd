"""The job commands' arguments: execute, attach, fork, ls, get, logs, cancel, set-data-ttl, download-files, clear,
gc (handlers in ``job_commands``; also registered under ``dsjobs project job``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow_provider_dsjobs.cli.arguments.common import (
    Handler,
    common,
    job_id,
    output,
    output_format,
    pull,
    python_interpreter,
)

#: The top-level commands ``register`` adds (``list`` is ``ls``'s alias).
COMMANDS = (
    "execute", "attach", "fork", "ls", "list", "get", "logs", "cancel", "set-data-ttl", "download-files", "clear", "gc",
)  # fmt: skip
#: ``dsjobs ls`` shows this many of the newest jobs unless ``--limit``/``--all`` say otherwise.
DEFAULT_LS_LIMIT = 50
#: The most ``--limit`` may ask for (``jobs.query.MAX_PAGE``; a test keeps them equal).
MAX_PAGE = 500


def _handler(name: str) -> Handler:
    return Handler("job_commands", name)


def register(subparsers: Any) -> None:
    _register_run(subparsers)
    _register_query(subparsers)
    _register_data(subparsers)


def _register_run(subparsers: Any) -> None:
    p = subparsers.add_parser("execute", help="run a config.yaml as a job and wait for it (or --async)")
    p.add_argument("-c", "--config", required=True, help="path to config.yaml")
    p.add_argument("--async", dest="is_async", action="store_true", help="print the job id and return at once")
    output(p, 'write {"job_id": ...} to FILE once the job is created')
    pull(p)
    common(p)
    python_interpreter(p)
    p.set_defaults(func=_handler("cmd_execute"))

    p = subparsers.add_parser("attach", help="follow a running job's output and wait for it")
    job_id(p)
    common(p)
    p.set_defaults(func=_handler("cmd_attach"))

    p = subparsers.add_parser("fork", help="re-run a job from its stored inputs, with overrides")
    job_id(p)
    python_interpreter(p)
    p.add_argument("--arg", action="append", default=[], metavar="NAME=VALUE", help="override an args value")
    p.add_argument("--var", action="append", default=[], metavar="NAME=PATH", help="override an input/output path")
    p.add_argument("--env-var", action="append", default=[], metavar="NAME=VALUE", help="replace env vars")
    p.add_argument("--name")
    p.add_argument("--desc")
    p.add_argument("--cloud-instance-type", action="append", default=[], metavar="TYPE")
    image = p.add_mutually_exclusive_group()
    image.add_argument("--docker-image-url", "--image", dest="image", metavar="IMAGE", help="run in another image")
    image.add_argument("--docker-image-id", metavar="ID", help="run in a project image (dsjobs docker-image add)")
    p.add_argument("--docker-image-username", metavar="USER", help="registry user for --docker-image-url")
    p.add_argument("--docker-image-password-secret-id", metavar="SECRET", help="secret holding the registry password")
    p.add_argument("--working-storage-type", metavar="TYPE", help="working storage type (SSD)")
    p.add_argument("--working-storage-size", metavar="SIZE", help="working storage size, e.g. 150Gb")
    p.add_argument("--async", dest="is_async", action="store_true")
    output(p, 'write {"job_id": ...} to FILE once the job is created')
    pull(p)
    common(p)
    p.set_defaults(func=_handler("cmd_fork"))


def _register_query(subparsers: Any) -> None:
    p = subparsers.add_parser("ls", aliases=["list"], help="list jobs of the project, newest first, a page at a time")
    p.add_argument(
        "--limit",
        type=int,
        default=DEFAULT_LS_LIMIT,
        help=f"show the newest N jobs (default {DEFAULT_LS_LIMIT}, at most {MAX_PAGE})",
    )
    p.add_argument("--offset", type=int, default=0, help="skip the newest N jobs first (the next page)")
    p.add_argument("--all", action="store_true", help="show every job (reads every record)")
    p.add_argument(
        "--status",
        action="append",
        default=[],
        metavar="STATUS",
        help="only jobs in this status (repeat or comma-separate for several)",
    )
    p.add_argument("--name", help="only jobs whose name (or id) contains this text, any case")
    p.add_argument("--reindex", action="store_true", help="rebuild the job index from the records first")
    output_format(p)
    common(p)
    p.set_defaults(func=_handler("cmd_ls"))

    p = subparsers.add_parser("get", help="show one job")
    job_id(p)
    output_format(p)
    common(p)
    p.set_defaults(func=_handler("cmd_get"))

    p = subparsers.add_parser("logs", help="print a job's output")
    job_id(p)
    p.add_argument("--tail", type=int, metavar="N", help="only the last N lines")
    common(p)
    p.set_defaults(func=_handler("cmd_logs"))

    p = subparsers.add_parser("cancel", help="cancel a job")
    job_id(p)
    p.add_argument("-g", "--graceful", action="store_true", help="send the graceful-shutdown signal first")
    common(p)
    p.set_defaults(func=_handler("cmd_cancel"))


def _register_data(subparsers: Any) -> None:
    p = subparsers.add_parser("set-data-ttl", help="keep a job's data N more days (or forever)")
    job_id(p)
    p.add_argument("--days", required=True, metavar="N|infinity")
    common(p)
    p.set_defaults(func=_handler("cmd_set_data_ttl"))

    p = subparsers.add_parser("download-files", help="download a job's outputs (and logs)")
    job_id(p)
    p.add_argument("--with-logs", action="store_true")
    p.add_argument(
        "--with-diagnostics", action="store_true", help="also the resource samples (docker_stats.tsv) and logs"
    )
    p.add_argument("--output-dir", type=Path, metavar="DIR", help="put every file in DIR (flattened to basenames)")
    common(p)
    p.set_defaults(func=_handler("cmd_download_files"))

    p = subparsers.add_parser(
        "clear",
        help="delete a job's stored data now (--id), or the project's expired data and unused cached inputs (--all)",
    )
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", dest="job_id", help="job id: its outputs, logs and the cached inputs only it used")
    which.add_argument("--all", action="store_true", help="expired job data and cached inputs no job needs")
    common(p)
    p.set_defaults(func=_handler("cmd_clear"))

    p = subparsers.add_parser(
        "gc",
        help="finish exited jobs nobody follows, delete expired job data and unreferenced blobs, then engine cache "
        "volumes unused for DSJOBS_CACHE_MAX_AGE_DAYS (30) or over DSJOBS_CACHE_BUDGET",
    )
    p.add_argument("--dry-run", action="store_true", help="only say what would be deleted")
    common(p)
    p.set_defaults(func=_handler("cmd_gc"))
