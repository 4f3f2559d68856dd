"""``dsjobs secret set|ls|rm`` (project secrets) and ``dsjobs docker-image add|ls|rm`` (project images).

A secret's value is read from standard input (typed without echo on a terminal), never from an argument, so it
stays out of shell history and ``ps``; nothing here prints a value.
"""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import json
import sys
from typing import Any

from airflow_provider_dsjobs.cli.job_commands import _common, _print_table, settings_from_args
from airflow_provider_dsjobs.cli.main import EXIT_OK, CommandError
from airflow_provider_dsjobs.resources.images import ImageRegistry
from airflow_provider_dsjobs.resources.secrets import FileSecretStore, SecretsError
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
        entries = _registry(args).list()
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
