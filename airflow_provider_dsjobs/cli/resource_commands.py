"""``dsjobs secret set|ls|rm`` (project secrets), ``dsjobs docker-image add|ls|rm`` (project images) and
``dsjobs dataset create|ls|get|rm`` (project datasets) and ``dsjobs project-disk put|ls|rm``.

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

from airflow_provider_dsjobs.cli.job_commands import _common, _print_table, settings_from_args
from airflow_provider_dsjobs.cli.main import EXIT_OK, EXIT_USAGE, CommandError
from airflow_provider_dsjobs.jobs.store import JobStore
from airflow_provider_dsjobs.resources.datasets import Dataset, DatasetCatalog, directory_files, store_files
from airflow_provider_dsjobs.resources.images import ImageRegistry
from airflow_provider_dsjobs.resources.project_disk import ProjectDisk
from airflow_provider_dsjobs.resources.s3_connectors import ConnectorRegistry
from airflow_provider_dsjobs.resources.secrets import FileSecretStore, SecretsError
from airflow_provider_dsjobs.resources.spark import SparkRegistry
from airflow_provider_dsjobs.runtime.containers import Runtime
from airflow_provider_dsjobs.runtime.errors import RuntimeFailure
from airflow_provider_dsjobs.storage.base import StoreError
from airflow_provider_dsjobs.storage.open import open_store

_IMAGE_COLUMNS = ("id", "image", "username", "password_secret_id", "description", "created_at")


def _format(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("table", "json"), default="table", help="output format")


def register(subparsers: Any) -> None:
    secret = subparsers.add_parser("secret", help="project secrets: env vars of every job, and what secret-id names")
    sub = secret.add_subparsers(dest="secret_command", metavar="COMMAND", required=True)
    p = sub.add_parser("set", help="add or replace a secret; the value is read from standard input")
    p.add_argument("name", help="secret name (letters, digits, '_' or '-'), e.g. MY-SECRET")
    _project(p)
    p.set_defaults(func=cmd_secret_set)
    p = sub.add_parser("ls", help="list the project's secret names (never their values)")
    _project(p)
    _format(p)
    p.set_defaults(func=cmd_secret_ls)
    p = sub.add_parser("rm", help="remove a secret")
    p.add_argument("name")
    _project(p)
    p.set_defaults(func=cmd_secret_rm)

    images = subparsers.add_parser("docker-image", help="project Docker images: env.docker: <image ID>")
    sub = images.add_subparsers(dest="image_command", metavar="COMMAND", required=True)
    p = sub.add_parser("add", help="register IMAGE_REF under ID in the project")
    p.add_argument("image_id", metavar="ID")
    p.add_argument("image", metavar="IMAGE_REF", help="e.g. registry.example.com/ml:1.2")
    p.add_argument("--username", help="registry user")
    p.add_argument("--password-secret-id", help="project secret holding the registry password")
    p.add_argument("--description", default="")
    _common(p)
    p.set_defaults(func=cmd_image_add)
    p = sub.add_parser("ls", help="list the project's images")
    _common(p)
    _format(p)
    p.set_defaults(func=cmd_image_ls)
    p = sub.add_parser("rm", help="unregister an image (the image itself is not deleted)")
    p.add_argument("image_id", metavar="ID")
    _common(p)
    p.set_defaults(func=cmd_image_rm)

    _register_datasets(subparsers)
    _register_project_disk(subparsers)
    _register_s3_connectors(subparsers)
    _register_spark_connectors(subparsers)


def _register_datasets(subparsers: Any) -> None:
    datasets = subparsers.add_parser("dataset", help="project datasets: read-only data a config uses by ID")
    sub = datasets.add_subparsers(dest="dataset_command", metavar="COMMAND", required=True)
    p = sub.add_parser("create", help="create a dataset from a local directory or an S3 prefix")
    p.add_argument("--name", required=True)
    p.add_argument("--from", dest="source", required=True, metavar="DIR|s3://bucket/prefix")
    p.add_argument("--id", dest="dataset_id", help="keep an ID your configs already use (default: a new one)")
    p.add_argument("--description", default="")
    p.add_argument("--label", action="append", default=[], metavar="K=V")
    _common(p)
    _format(p)
    p.set_defaults(func=cmd_dataset_create)
    p = sub.add_parser("ls", help="list the project's datasets (created and output datasets), newest first")
    _common(p)
    _format(p)
    p.set_defaults(func=cmd_dataset_ls)
    for name, func, text in (("get", cmd_dataset_get, "show one dataset"), ("rm", cmd_dataset_rm, "delete one")):
        p = sub.add_parser(name, help=text + " (rm is refused while a running job uses it)")
        p.add_argument("--id", dest="dataset_id", required=True)
        _common(p)
        _format(p)
        p.set_defaults(func=func)


def _register_project_disk(subparsers: Any) -> None:
    disk = subparsers.add_parser("project-disk", help="the project disk: ${DS_PROJECT_HOME} with attach-project-disk")
    sub = disk.add_subparsers(dest="disk_command", metavar="COMMAND", required=True)
    p = sub.add_parser("put", help="copy a local file or directory into DIR of the project disk")
    p.add_argument("local", metavar="LOCAL")
    p.add_argument("directory", metavar="DIR", nargs="?", default="")
    _common(p)
    p.set_defaults(func=cmd_disk_put)
    p = sub.add_parser("ls", help="list the files under DIR of the project disk, with sizes")
    p.add_argument("directory", metavar="DIR", nargs="?", default="")
    _common(p)
    _format(p)
    p.set_defaults(func=cmd_disk_ls)
    p = sub.add_parser("rm", help="delete a file or directory of the project disk")
    p.add_argument("path", metavar="PATH")
    _common(p)
    p.set_defaults(func=cmd_disk_rm)


def _register_s3_connectors(subparsers: Any) -> None:
    conn = subparsers.add_parser("s3-connector", help="S3 connectors: what an s3-mounts ID names")
    sub = conn.add_subparsers(dest="connector_command", metavar="COMMAND", required=True)
    p = sub.add_parser("add", help="register (or replace) connector ID → s3://bucket/prefix with its own endpoint")
    p.add_argument("connector_id", metavar="ID")
    p.add_argument("url", metavar="s3://bucket/prefix")
    p.add_argument("--endpoint-url", help="S3-compatible endpoint (default: AWS)")
    p.add_argument("--region")
    p.add_argument("--access-key-id")
    p.add_argument("--secret-key-secret-id", help="project secret holding the secret access key")
    p.add_argument("--max-bytes", type=int, help="refuse to copy in more than this (default: no limit)")
    p.add_argument("--description", default="")
    _common(p)
    p.set_defaults(func=cmd_connector_add)
    p = sub.add_parser("ls", help="list the project's S3 connectors (no secret values)")
    _common(p)
    _format(p)
    p.set_defaults(func=cmd_connector_ls)
    p = sub.add_parser("rm", help="unregister a connector (the bucket is not touched)")
    p.add_argument("connector_id", metavar="ID")
    _common(p)
    p.set_defaults(func=cmd_connector_rm)


def _register_spark_connectors(subparsers: Any) -> None:
    conn = subparsers.add_parser("spark-connector", help="Spark connectors: what spark.connector names")
    sub = conn.add_subparsers(dest="spark_command", metavar="COMMAND", required=True)
    p = sub.add_parser("add", help="register (or replace) connector ID → a Spark Connect endpoint sc://host:port")
    p.add_argument("connector_id", metavar="ID")
    p.add_argument("remote", metavar="sc://host:port")
    p.add_argument("--conf", action="append", default=[], metavar="K=V", help="a Spark session parameter")
    p.add_argument("--token-secret-id", help="project secret holding the endpoint's token")
    p.add_argument("--description", default="")
    _common(p)
    p.set_defaults(func=cmd_spark_add)
    p = sub.add_parser("ls", help="list the project's Spark connectors")
    _common(p)
    _format(p)
    p.set_defaults(func=cmd_spark_ls)
    p = sub.add_parser("rm", help="unregister a Spark connector")
    p.add_argument("connector_id", metavar="ID")
    _common(p)
    p.set_defaults(func=cmd_spark_rm)


def _project(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project", help="project name (DSJOBS_PROJECT)")


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
    secrets = _secrets(args)
    try:
        secrets.set(args.name, _read_value(args.name))
    except SecretsError as exc:
        raise CommandError(str(exc)) from None
    print(f"secret {args.name} set in project {settings_from_args(args).project}", file=sys.stderr)
    return EXIT_OK


def cmd_secret_ls(args: argparse.Namespace) -> int:
    try:
        names = _secrets(args).names()
    except SecretsError as exc:
        raise CommandError(str(exc)) from None
    if args.format == "json":
        print(json.dumps(names))
    else:
        for name in names:
            print(name)
    return EXIT_OK


def cmd_secret_rm(args: argparse.Namespace) -> int:
    try:
        removed = _secrets(args).remove(args.name)
    except SecretsError as exc:
        raise CommandError(str(exc)) from None
    if not removed:
        raise CommandError(f"no secret {args.name!r} in project {settings_from_args(args).project}")
    print(f"secret {args.name} removed", file=sys.stderr)
    return EXIT_OK


def _registry(args: argparse.Namespace) -> ImageRegistry:
    settings = settings_from_args(args)
    try:
        return ImageRegistry(open_store(settings), settings.project)
    except StoreError as exc:
        raise CommandError(str(exc)) from None


def cmd_image_add(args: argparse.Namespace) -> int:
    registry = _registry(args)
    try:
        entry = registry.add(
            args.image_id,
            args.image,
            username=args.username,
            password_secret_id=args.password_secret_id,
            description=args.description,
        )
    except StoreError as exc:
        raise CommandError(str(exc)) from None
    print(f"image {entry.id} → {entry.image}", file=sys.stderr)
    return EXIT_OK


def cmd_image_ls(args: argparse.Namespace) -> int:
    try:
        entries = _registry(args).all()
    except StoreError as exc:
        raise CommandError(str(exc)) from None
    rows = [dataclasses.asdict(e) for e in entries]
    if args.format == "json":
        print(json.dumps(rows, indent=4))
    else:
        _print_table(rows, _IMAGE_COLUMNS)
    return EXIT_OK


def cmd_image_rm(args: argparse.Namespace) -> int:
    try:
        removed = _registry(args).remove(args.image_id)
    except StoreError as exc:
        raise CommandError(str(exc)) from None
    if not removed:
        raise CommandError(f"no image {args.image_id!r} in the project")
    print(f"image {args.image_id} removed", file=sys.stderr)
    return EXIT_OK


# -- datasets ----------------------------------------------------------------------------------------------

_DATASET_COLUMNS = ("id", "name", "size", "files", "created_at", "job_id", "source")


def _catalog(args: argparse.Namespace) -> DatasetCatalog:
    settings = settings_from_args(args)
    try:
        return DatasetCatalog(JobStore(open_store(settings), settings.project))
    except StoreError as exc:
        raise CommandError(str(exc)) from None


def _show(datasets: list[Dataset], fmt: str) -> None:
    if fmt == "json":
        print(json.dumps([d.to_dict() for d in datasets], indent=4))
    else:
        _print_table([d.to_dict() for d in datasets], _DATASET_COLUMNS)


def _labels(pairs: list[str], option: str = "--label") -> dict[str, str]:
    labels = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CommandError(f"{option} {pair!r}: use KEY=VALUE", EXIT_USAGE)
        labels[key] = value
    return labels


def cmd_dataset_create(args: argparse.Namespace) -> int:
    catalog = _catalog(args)
    labels = _labels(args.label)
    settings = settings_from_args(args)
    try:
        if args.source.startswith("s3://"):
            files = store_files(open_store(dataclasses.replace(settings, store_url=args.source)))
        else:
            files = directory_files(Path(args.source).expanduser())
        dataset = catalog.create(
            args.name, files, source=args.source, dataset_id=args.dataset_id,
            description=args.description, labels=labels,
        )  # fmt: skip
    except StoreError as exc:
        raise CommandError(str(exc)) from None
    if args.format == "json":
        print(json.dumps(dataset.to_dict(), indent=4))
    else:
        print(f"Created dataset {dataset.id} ({dataset.name}): {dataset.files} file(s), {dataset.size} B")
    return EXIT_OK


def cmd_dataset_ls(args: argparse.Namespace) -> int:
    try:
        datasets = _catalog(args).all()
    except StoreError as exc:
        raise CommandError(str(exc)) from None
    _show(datasets, args.format)
    return EXIT_OK


def cmd_dataset_get(args: argparse.Namespace) -> int:
    try:
        dataset = _catalog(args).get(args.dataset_id)
    except StoreError as exc:
        raise CommandError(str(exc)) from None
    if dataset is None:
        raise CommandError(f"no dataset {args.dataset_id!r} in project {settings_from_args(args).project}")
    if args.format == "json":
        print(json.dumps(dataset.to_dict(), indent=4))
    else:
        _show([dataset], args.format)
    return EXIT_OK


def cmd_dataset_rm(args: argparse.Namespace) -> int:
    try:
        dataset = _catalog(args).remove(args.dataset_id)
    except StoreError as exc:
        raise CommandError(str(exc)) from None
    print(f"dataset {dataset.id} ({dataset.name}) removed", file=sys.stderr)
    return EXIT_OK


# -- project disk ------------------------------------------------------------------------------------------


def _disk(args: argparse.Namespace) -> ProjectDisk:
    settings = settings_from_args(args)
    try:
        return ProjectDisk(Runtime.connect(settings), settings.project, settings.default_image)
    except RuntimeFailure as exc:
        raise CommandError(str(exc)) from None


def cmd_disk_put(args: argparse.Namespace) -> int:
    try:
        count = _disk(args).put(Path(args.local).expanduser(), args.directory)
    except RuntimeFailure as exc:
        raise CommandError(str(exc)) from None
    print(f"copied {count} file(s) to the project disk", file=sys.stderr)
    return EXIT_OK


def cmd_disk_ls(args: argparse.Namespace) -> int:
    try:
        files = _disk(args).ls(args.directory)
    except RuntimeFailure as exc:
        raise CommandError(str(exc)) from None
    if args.format == "json":
        print(json.dumps([dataclasses.asdict(f) for f in files], indent=4))
    else:
        _print_table([dataclasses.asdict(f) for f in files], ("path", "size"))
    return EXIT_OK


def cmd_disk_rm(args: argparse.Namespace) -> int:
    try:
        _disk(args).rm(args.path)
    except RuntimeFailure as exc:
        raise CommandError(str(exc)) from None
    print(f"removed {args.path} from the project disk", file=sys.stderr)
    return EXIT_OK


# -- S3 connectors -----------------------------------------------------------------------------------------

_CONNECTOR_COLUMNS = ("id", "url", "endpoint_url", "region", "access_key_id", "secret_key_secret_id", "max_bytes")


def _connectors(args: argparse.Namespace) -> ConnectorRegistry:
    settings = settings_from_args(args)
    try:
        return ConnectorRegistry(open_store(settings), settings.project)
    except StoreError as exc:
        raise CommandError(str(exc)) from None


def cmd_connector_add(args: argparse.Namespace) -> int:
    registry = _connectors(args)
    try:
        entry = registry.add(
            args.connector_id, args.url, endpoint_url=args.endpoint_url, region=args.region,
            access_key_id=args.access_key_id, secret_key_secret_id=args.secret_key_secret_id,
            max_bytes=args.max_bytes, description=args.description,
        )  # fmt: skip
    except StoreError as exc:
        raise CommandError(str(exc)) from None
    print(f"s3-connector {entry.id} → {entry.url}", file=sys.stderr)
    return EXIT_OK


def cmd_connector_ls(args: argparse.Namespace) -> int:
    try:
        rows = [dataclasses.asdict(e) for e in _connectors(args).all()]
    except StoreError as exc:
        raise CommandError(str(exc)) from None
    if args.format == "json":
        print(json.dumps(rows, indent=4))
    else:
        _print_table(rows, _CONNECTOR_COLUMNS)
    return EXIT_OK


def cmd_connector_rm(args: argparse.Namespace) -> int:
    try:
        removed = _connectors(args).remove(args.connector_id)
    except StoreError as exc:
        raise CommandError(str(exc)) from None
    if not removed:
        raise CommandError(f"no s3-connector {args.connector_id!r} in the project")
    print(f"s3-connector {args.connector_id} removed", file=sys.stderr)
    return EXIT_OK


# -- Spark connectors --------------------------------------------------------------------------------------


def _spark(args: argparse.Namespace) -> SparkRegistry:
    settings = settings_from_args(args)
    try:
        return SparkRegistry(open_store(settings), settings.project)
    except StoreError as exc:
        raise CommandError(str(exc)) from None


def cmd_spark_add(args: argparse.Namespace) -> int:
    registry = _spark(args)
    params = _labels(args.conf, "--conf")
    try:
        entry = registry.add(
            args.connector_id, args.remote, session_params=params, token_secret_id=args.token_secret_id,
            description=args.description,
        )  # fmt: skip
    except StoreError as exc:
        raise CommandError(str(exc)) from None
    print(f"spark-connector {entry.id} → {entry.remote}", file=sys.stderr)
    return EXIT_OK


def cmd_spark_ls(args: argparse.Namespace) -> int:
    try:
        rows = [dict(dataclasses.asdict(e), session_params=dict(e.session_params)) for e in _spark(args).all()]
    except StoreError as exc:
        raise CommandError(str(exc)) from None
    if args.format == "json":
        print(json.dumps(rows, indent=4))
    else:
        _print_table(rows, ("id", "remote", "session_params", "token_secret_id", "created_at"))
    return EXIT_OK


def cmd_spark_rm(args: argparse.Namespace) -> int:
    try:
        removed = _spark(args).remove(args.connector_id)
    except StoreError as exc:
        raise CommandError(str(exc)) from None
    if not removed:
        raise CommandError(f"no spark-connector {args.connector_id!r} in the project")
    print(f"spark-connector {args.connector_id} removed", file=sys.stderr)
    return EXIT_OK
