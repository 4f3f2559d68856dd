"""``dsjobs secret set|ls|rm``, ``dsjobs dataset create|ls|get|rm`` and ``dsjobs project-disk put|ls|rm`` (handlers
in ``resource_commands``)."""

from __future__ import annotations

from typing import Any

from airflow_provider_dsjobs.cli.arguments.common import Handler, add_format, common

#: The top-level commands ``register`` adds.
COMMANDS = ("secret", "dataset", "project-disk")


def _handler(name: str) -> Handler:
    return Handler("resource_commands", name)


def register(subparsers: Any) -> None:
    _register_secrets(subparsers)
    _register_datasets(subparsers)
    _register_project_disk(subparsers)


def _register_secrets(subparsers: Any) -> None:
    secret = subparsers.add_parser("secret", help="project secrets: env vars of every job, and what secret-id names")
    sub = secret.add_subparsers(dest="secret_command", metavar="COMMAND", required=True)
    p = sub.add_parser("set", help="add or replace a secret; the value is read from standard input")
    p.add_argument("name", help="secret name (letters, digits, '_' or '-'), e.g. MY-SECRET")
    p.set_defaults(func=_handler("cmd_secret_set"))
    p = sub.add_parser("ls", help="list the project's secret names (never their values)")
    p.set_defaults(func=_handler("cmd_secret_ls"))
    p = sub.add_parser("rm", help="remove a secret")
    p.add_argument("name")
    p.set_defaults(func=_handler("cmd_secret_rm"))
    for action in sub.choices.values():
        action.add_argument("--project", help="project name (DSJOBS_PROJECT)")
        add_format(action)


def _register_datasets(subparsers: Any) -> None:
    datasets = subparsers.add_parser("dataset", help="project datasets: read-only data a config uses by ID")
    sub = datasets.add_subparsers(dest="dataset_command", metavar="COMMAND", required=True)
    p = sub.add_parser("create", help="create a dataset from a local directory or an S3 prefix")
    p.add_argument("--name", required=True)
    p.add_argument("--from", dest="source", required=True, metavar="DIR|s3://bucket/prefix")
    p.add_argument("--id", dest="dataset_id", help="keep an ID your configs already use (default: a new one)")
    p.add_argument("--description", default="")
    p.add_argument("--label", action="append", default=[], metavar="K=V")
    p.set_defaults(func=_handler("cmd_dataset_create"))
    p = sub.add_parser("ls", help="list the project's datasets (created and output datasets), newest first")
    p.set_defaults(func=_handler("cmd_dataset_ls"))
    for name, func, text in (("get", "cmd_dataset_get", "show one dataset"), ("rm", "cmd_dataset_rm", "delete one")):
        p = sub.add_parser(name, help=text + (" (refused while a running job uses it)" if name == "rm" else ""))
        p.add_argument("--id", dest="dataset_id", required=True)
        p.set_defaults(func=_handler(func))
    for action in sub.choices.values():
        common(action)
        add_format(action)


def _register_project_disk(subparsers: Any) -> None:
    disk = subparsers.add_parser("project-disk", help="the project disk: ${DS_PROJECT_HOME} with attach-project-disk")
    sub = disk.add_subparsers(dest="disk_command", metavar="COMMAND", required=True)
    p = sub.add_parser("put", help="copy a local file or directory into DIR of the project disk")
    p.add_argument("local", metavar="LOCAL")
    p.add_argument("directory", metavar="DIR", nargs="?", default="")
    p.set_defaults(func=_handler("cmd_disk_put"))
    p = sub.add_parser("ls", help="list the files under DIR of the project disk, with sizes")
    p.add_argument("directory", metavar="DIR", nargs="?", default="")
    p.set_defaults(func=_handler("cmd_disk_ls"))
    p = sub.add_parser("rm", help="delete a file or directory of the project disk")
    p.add_argument("path", metavar="PATH")
    p.set_defaults(func=_handler("cmd_disk_rm"))
    for action in sub.choices.values():
        common(action)
        add_format(action)
