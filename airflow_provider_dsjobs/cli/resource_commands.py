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
from airflow_provider_dsjobs.cli.job_commands import _print_table, settings_from_args
from airflow_provider_dsjobs.cli.registry_commands import key_values, report, resource_errors
from airflow_provider_dsjobs.jobs.store import JobStore
from airflow_provider_dsjobs.resources.datasets import DatasetCatalog, directory_files, store_files
from airflow_provider_dsjobs.resources.project_disk import ProjectDisk
from airflow_provider_dsjobs.resources.secrets import FileSecretStore
from airflow_provider_dsjobs.runtime.containers import Runtime
from airflow_provider_dsjobs.storage.open import open_store

_DATASET_COLUMNS = ("id", "name", "size", "files", "created_at", "job_id", "source")


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
