"""``dsjobs secret set|ls|rm`` (project secrets), ``dsjobs dataset create|ls|get|rm`` (project datasets) and
``dsjobs project-disk put|ls|rm``. The registries (``docker-image``, ``s3-connector``, ``spark-connector``) are
in ``registry_commands.py``.

A secret's value is read from standard input (typed without echo on a terminal), never from an argument, so it
stays out of shell history and ``ps``; nothing here prints a value.
"""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import json
import sys
from pathlib import Path
from typing import Any

from airflow_provider_dsjobs.cli.errors import EXIT_OK, CommandError
from airflow_provider_dsjobs.cli.job_commands import _common, _print_table, settings_from_args
from airflow_provider_dsjobs.cli.registry_commands import add_format, key_values, report, resource_errors
from airflow_provider_dsjobs.jobs.store import JobStore
from airflow_provider_dsjobs.resources.datasets import DatasetCatalog, directory_files, store_files
from airflow_provider_dsjobs.resources.project_disk import ProjectDisk
from airflow_provider_dsjobs.resources.secrets import FileSecretStore
from airflow_provider_dsjobs.runtime.containers import Runtime
from airflow_provider_dsjobs.storage.open import open_store

_DATASET_COLUMNS = ("id", "name", "size", "files", "created_at", "job_id", "source")


def register(subparsers: Any) -> None:
    _register_secrets(subparsers)
    _register_datasets(subparsers)
    _register_project_disk(subparsers)


def _register_secrets(subparsers: Any) -> None:
    secret = subparsers.add_parser("secret", help="project secrets: env vars of every job, and what secret-id names")
    sub = secret.add_subparsers(dest="secret_command", metavar="COMMAND", required=True)
    p = sub.add_parser("set", help="add or replace a secret; the value is read from standard input")
    p.add_argument("name", help="secret name (letters, digits, '_' or '-'), e.g. MY-SECRET")
    p.set_defaults(func=cmd_secret_set)
    p = sub.add_parser("ls", help="list the project's secret names (never their values)")
    p.set_defaults(func=cmd_secret_ls)
    p = sub.add_parser("rm", help="remove a secret")
    p.add_argument("name")
    p.set_defaults(func=cmd_secret_rm)
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
    p.set_defaults(func=cmd_dataset_create)
    p = sub.add_parser("ls", help="list the project's datasets (created and output datasets), newest first")
    p.set_defaults(func=cmd_dataset_ls)
    for name, func, text in (("get", cmd_dataset_get, "show one dataset"), ("rm", cmd_dataset_rm, "delete one")):
        p = sub.add_parser(name, help=text + (" (refused while a running job uses it)" if name == "rm" else ""))
        p.add_argument("--id", dest="dataset_id", required=True)
        p.set_defaults(func=func)
    for action in sub.choices.values():
        _common(action)
        add_format(action)


def _register_project_disk(subparsers: Any) -> None:
    disk = subparsers.add_parser("project-disk", help="the project disk: ${DS_PROJECT_HOME} with attach-project-disk")
    sub = disk.add_subparsers(dest="disk_command", metavar="COMMAND", required=True)
    p = sub.add_parser("put", help="copy a local file or directory into DIR of the project disk")
    p.add_argument("local", metavar="LOCAL")
    p.add_argument("directory", metavar="DIR", nargs="?", default="")
    p.set_defaults(func=cmd_disk_put)
    p = sub.add_parser("ls", help="list the files under DIR of the project disk, with sizes")
    p.add_argument("directory", metavar="DIR", nargs="?", default="")
    p.set_defaults(func=cmd_disk_ls)
    p = sub.add_parser("rm", help="delete a file or directory of the project disk")
    p.add_argument("path", metavar="PATH")
    p.set_defaults(func=cmd_disk_rm)
    for action in sub.choices.values():
        _common(action)
        add_format(action)


# -- secrets -----------------------------------------------------------------------------------------------


def _secrets(args: argparse.Namespace) -> FileSecretStore:
    settings = settings_from_args(args)
    return FileSecretStore(settings.home, settings.project)


def _read_value(name: str) -> str:
    if sys.stdin is None:
        raise CommandError(f"no value for secret {name!r}: pipe it to standard input")
    if sys.stdin.isatty():
        return getpass.getpass(f"value of {name}: ")
    value = sys.stdin.read()
    return value[:-1] if value.endswith("\n") else value


def cmd_secret_set(args: argparse.Namespace) -> int:
    project = settings_from_args(args).project
    with resource_errors():
        _secrets(args).set(args.name, _read_value(args.name))
    report(args, f"secret {args.name} set in project {project}", {"name": args.name, "project": project})
    return EXIT_OK


def cmd_secret_ls(args: argparse.Namespace) -> int:
    with resource_errors():
        names = _secrets(args).names()
    if args.format == "json":
        print(json.dumps(names))
    else:
        for name in names:
            print(name)
    return EXIT_OK


def cmd_secret_rm(args: argparse.Namespace) -> int:
    with resource_errors():
        removed = _secrets(args).remove(args.name)
    if not removed:
        raise CommandError(f"no secret {args.name!r} in project {settings_from_args(args).project}")
    report(args, f"secret {args.name} removed", {"removed": args.name})
    return EXIT_OK


# -- datasets ----------------------------------------------------------------------------------------------


def _catalog(args: argparse.Namespace) -> DatasetCatalog:
    settings = settings_from_args(args)
    with resource_errors():
        return DatasetCatalog(JobStore(open_store(settings), settings.project))


def _show(rows: list[dict[str, Any]], fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(rows, indent=4))
    else:
        _print_table(rows, _DATASET_COLUMNS)


def cmd_dataset_create(args: argparse.Namespace) -> int:
    catalog = _catalog(args)
    labels = key_values(args.label, "--label")
    settings = settings_from_args(args)
    with resource_errors():
        if args.source.startswith("s3://"):
            files = store_files(open_store(dataclasses.replace(settings, store_url=args.source)))
        else:
            files = directory_files(Path(args.source).expanduser())
        dataset = catalog.create(
            args.name, files, source=args.source, dataset_id=args.dataset_id,
            description=args.description, labels=labels,
        )  # fmt: skip
    message = f"Created dataset {dataset.id} ({dataset.name}): {dataset.files} file(s), {dataset.size} B"
    if args.format == "json":
        print(json.dumps(dataset.to_dict(), indent=4))
    else:
        print(message)
    return EXIT_OK


def cmd_dataset_ls(args: argparse.Namespace) -> int:
    with resource_errors():
        datasets = _catalog(args).all(on_unreadable=lambda line: print(f"warning: {line}", file=sys.stderr))
    _show([d.to_dict() for d in datasets], args.format)
    return EXIT_OK


def cmd_dataset_get(args: argparse.Namespace) -> int:
    with resource_errors():
        dataset = _catalog(args).get(args.dataset_id)
    if dataset is None:
        raise CommandError(f"no dataset {args.dataset_id!r} in project {settings_from_args(args).project}")
    if args.format == "json":
        print(json.dumps(dataset.to_dict(), indent=4))
    else:
        _show([dataset.to_dict()], args.format)
    return EXIT_OK


def cmd_dataset_rm(args: argparse.Namespace) -> int:
    with resource_errors():
        dataset = _catalog(args).remove(args.dataset_id)
    report(args, f"dataset {dataset.id} ({dataset.name}) removed", {"removed": dataset.id})
    return EXIT_OK


# -- project disk ------------------------------------------------------------------------------------------


def _disk(args: argparse.Namespace) -> ProjectDisk:
    settings = settings_from_args(args)
    with resource_errors():
        return ProjectDisk(Runtime.connect(settings), settings.project, settings.default_image)


def cmd_disk_put(args: argparse.Namespace) -> int:
    with resource_errors():
        count = _disk(args).put(Path(args.local).expanduser(), args.directory)
    report(args, f"copied {count} file(s) to the project disk", {"files": count})
    return EXIT_OK


def cmd_disk_ls(args: argparse.Namespace) -> int:
    with resource_errors():
        rows = [dataclasses.asdict(f) for f in _disk(args).ls(args.directory)]
    if args.format == "json":
        print(json.dumps(rows, indent=4))
    else:
        _print_table(rows, ("path", "size"))
    return EXIT_OK


def cmd_disk_rm(args: argparse.Namespace) -> int:
    with resource_errors():
        _disk(args).rm(args.path)
    report(args, f"removed {args.path} from the project disk", {"removed": args.path})
    return EXIT_OK
