"""``dsjobs docker-image|s3-connector|spark-connector add|ls|rm``: the project registries in the store
(``resources/registry.py``). Every kind has the same ``ls`` and ``rm``; only ``add`` knows its fields. The arguments
are in ``arguments/registries.py``, which passes the kind's command word as ``args.kind``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from airflow_provider_dsjobs.cli.errors import EXIT_OK, EXIT_USAGE, CommandError
from airflow_provider_dsjobs.cli.job_commands import _print_table, settings_from_args
from airflow_provider_dsjobs.resources.images import ImageRegistry
from airflow_provider_dsjobs.resources.registry import JsonRegistry
from airflow_provider_dsjobs.resources.s3_connectors import ConnectorRegistry
from airflow_provider_dsjobs.resources.secrets import SecretsError
from airflow_provider_dsjobs.resources.spark import SparkRegistry
from airflow_provider_dsjobs.runtime.errors import RuntimeFailure
from airflow_provider_dsjobs.storage.base import ObjectStore, StoreError
from airflow_provider_dsjobs.storage.open import open_store


@contextmanager
def resource_errors() -> Iterator[None]:
    """The core's one-line resource errors as ``CommandError`` (exit 1)."""
    try:
        yield
    except (StoreError, SecretsError, RuntimeFailure) as exc:
        raise CommandError(str(exc)) from None


def key_values(pairs: list[str], option: str) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CommandError(f"{option} {pair!r}: use KEY=VALUE", EXIT_USAGE)
        out[key] = value
    return out


def report(args: argparse.Namespace, message: str, data: Any) -> None:
    """What an action did: ``data`` as JSON on stdout with ``--format json``, else ``message`` on stderr."""
    if getattr(args, "format", "table") == "json":
        print(json.dumps(data, indent=4))
    else:
        print(message, file=sys.stderr)


def _row(entry: Any) -> dict[str, Any]:
    return {k: (dict(v) if isinstance(v, dict) else v) for k, v in dataclasses.asdict(entry).items()}


@dataclasses.dataclass(frozen=True)
class _Kind:
    command: str  # the CLI word: docker-image, s3-connector, spark-connector
    what: str  # for messages
    registry: Callable[[ObjectStore, str], JsonRegistry[Any]]
    columns: tuple[str, ...]
    add: Callable[[Any, argparse.Namespace], Any]  # (registry, args) -> the new entry
    target: Callable[[Any], str]  # what an entry points at, for the "added" line


def _add_image(registry: ImageRegistry, args: argparse.Namespace) -> Any:
    # The password (a project secret, or DSJOBS_SECRET_<ID> here) binds the entry to its registry host; never stored.
    password = settings_from_args(args).resolve_secret(args.password_secret_id) if args.password_secret_id else None
    return registry.add(
        args.entry_id, args.image, username=args.username, password_secret_id=args.password_secret_id,
        password=password, description=args.description,
    )  # fmt: skip


def _add_s3(registry: ConnectorRegistry, args: argparse.Namespace) -> Any:
    return registry.add(
        args.entry_id, args.url, endpoint_url=args.endpoint_url, region=args.region,
        access_key_id=args.access_key_id, secret_key_secret_id=args.secret_key_secret_id,
        max_bytes=args.max_bytes, read_write=args.read_write, lazy=args.lazy, description=args.description,
    )  # fmt: skip


def _add_spark(registry: SparkRegistry, args: argparse.Namespace) -> Any:
    # The token (a project secret, or DSJOBS_SECRET_<ID> here) binds the entry to its endpoint; never stored.
    token = settings_from_args(args).resolve_secret(args.token_secret_id) if args.token_secret_id else None
    return registry.add(
        args.entry_id, args.remote, session_params=key_values(args.conf, "--conf"),
        token_secret_id=args.token_secret_id, token=token, description=args.description,
    )  # fmt: skip


KINDS = (
    _Kind(
        "docker-image", "image", ImageRegistry,
        ("id", "image", "username", "password_secret_id", "registry", "description", "created_at"),
        _add_image, lambda e: e.image,
    ),
    _Kind(
        "s3-connector", "s3-connector", ConnectorRegistry,
        ("id", "url", "endpoint_url", "region", "access_key_id", "secret_key_secret_id", "max_bytes", "read_write",
         "lazy"),
        _add_s3, lambda e: e.url,
    ),
    _Kind(
        "spark-connector", "spark-connector", SparkRegistry,
        ("id", "remote", "session_params", "token_secret_id", "created_at"),
        _add_spark, lambda e: e.remote,
    ),
)  # fmt: skip


#: The kinds by their command word (``args.kind``).
_BY_COMMAND = {kind.command: kind for kind in KINDS}


def _kind(args: argparse.Namespace) -> _Kind:
    return _BY_COMMAND[args.kind]


def _registry(args: argparse.Namespace) -> JsonRegistry[Any]:
    settings = settings_from_args(args)
    with resource_errors():
        return _kind(args).registry(open_store(settings), settings.project)


def cmd_add(args: argparse.Namespace) -> int:
    kind = _kind(args)
    registry = _registry(args)
    with resource_errors():
        entry = kind.add(registry, args)
    report(args, f"{kind.what} {entry.id} → {kind.target(entry)}", _row(entry))
    return EXIT_OK


def cmd_ls(args: argparse.Namespace) -> int:
    registry = _registry(args)
    with resource_errors():
        rows = [_row(e) for e in registry.all()]
    if args.format == "json":
        print(json.dumps(rows, indent=4))
    else:
        _print_table(rows, _kind(args).columns)
    return EXIT_OK


def cmd_rm(args: argparse.Namespace) -> int:
    registry = _registry(args)
    with resource_errors():
        removed = registry.remove(args.entry_id)
    if not removed:
        raise CommandError(f"no {_kind(args).what} {args.entry_id!r} in the project")
    report(args, f"{_kind(args).what} {args.entry_id} removed", {"removed": args.entry_id})
    return EXIT_OK
