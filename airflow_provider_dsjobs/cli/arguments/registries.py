"""``dsjobs docker-image|s3-connector|spark-connector add|ls|rm`` (handlers in ``registry_commands``, which knows
each kind's registry by its command word, passed on as ``args.kind``)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, NamedTuple

from airflow_provider_dsjobs.cli.arguments.common import Handler, add_format, common


class KindArguments(NamedTuple):
    command: str  # the CLI word: docker-image, s3-connector, spark-connector
    help: str
    what: str  # for help texts
    add_arguments: Callable[[argparse.ArgumentParser], None]


def _image_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("image", metavar="IMAGE_REF", help="e.g. registry.example.com/ml:1.2")
    p.add_argument("--username", help="registry user")
    p.add_argument("--password-secret-id", help="project secret holding the registry password")


def _s3_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("url", metavar="s3://bucket/prefix")
    p.add_argument("--endpoint-url", help="S3-compatible endpoint (default: AWS)")
    p.add_argument("--region")
    p.add_argument("--access-key-id")
    p.add_argument("--secret-key-secret-id", help="project secret holding the secret access key")
    p.add_argument("--max-bytes", type=int, help="refuse to copy in more than this (default: no limit)")
    p.add_argument(
        "--read-write",
        action="store_true",
        help="upload what the job writes under the mount path back to the bucket when it ends (also on ERROR or "
        "CANCELLED): new and changed files only, nothing deleted",
    )
    p.add_argument(
        "--lazy",
        action="store_true",
        help="read-only, fetched on demand: an s3fs FUSE mount where the engine allows it (DSJOBS_LAZY_MOUNTS), "
        "else the engine cache",
    )


def _spark_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("remote", metavar="sc://host:port")
    p.add_argument("--conf", action="append", default=[], metavar="K=V", help="a Spark session parameter")
    p.add_argument("--token-secret-id", help="project secret holding the endpoint's token")


KINDS = (
    KindArguments("docker-image", "project Docker images: env.docker: <image ID>", "image", _image_arguments),
    KindArguments("s3-connector", "S3 connectors: what an s3-mounts ID names", "s3-connector", _s3_arguments),
    KindArguments(
        "spark-connector", "Spark connectors: what spark.connector names", "spark-connector", _spark_arguments
    ),
)

#: The top-level commands ``register`` adds.
COMMANDS = tuple(kind.command for kind in KINDS)


def register(subparsers: Any) -> None:
    for kind in KINDS:
        parser = subparsers.add_parser(kind.command, help=kind.help)
        sub = parser.add_subparsers(dest=f"{kind.command}_command", metavar="COMMAND", required=True)
        p = sub.add_parser("add", help=f"register (or replace) a {kind.what} under ID in the project")
        p.add_argument("entry_id", metavar="ID")
        kind.add_arguments(p)
        p.add_argument("--description", default="")
        p.set_defaults(func=Handler("registry_commands", "cmd_add"))
        p = sub.add_parser("ls", help=f"list the project's {kind.what}s (no secret values)")
        p.set_defaults(func=Handler("registry_commands", "cmd_ls"))
        p = sub.add_parser("rm", help=f"unregister a {kind.what} (what it points at is not touched)")
        p.add_argument("entry_id", metavar="ID")
        p.set_defaults(func=Handler("registry_commands", "cmd_rm"))
        for action in sub.choices.values():
            common(action)
            add_format(action)
            action.set_defaults(kind=kind.command)
