"""``dsjobs cache ls``: the cache volumes dsjobs made on the engine (Python environments, datasets, S3 mounts,
ML Lab ``/data``, project disks) with their kind, project, size, last use and whether a container holds one.
``dsjobs gc`` removes the ones unused for long or over the budget (``jobs/cache_gc.py``)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from airflow_provider_dsjobs.cli.errors import EXIT_USAGE, CommandError

_COLUMNS = ("NAME", "KIND", "PROJECT", "SIZE", "LAST USE", "IN USE")


def _cell(text: str) -> str:
    """A value from the engine as a table shows it: control characters escaped."""
    return text if text.isprintable() else ascii(text)


def cmd_cache_ls(args: argparse.Namespace) -> int:
    from airflow_provider_dsjobs.cli.job_commands import _job_error_into_command_error, _service
    from airflow_provider_dsjobs.jobs.cache_gc import list_engine_caches
    from airflow_provider_dsjobs.runtime.errors import RuntimeFailure
    from airflow_provider_dsjobs.storage.base import StoreError
    from airflow_provider_dsjobs.storage.cas import check_project

    project = args.only_project
    if project is not None:
        try:
            check_project(project)
        except StoreError as exc:
            raise CommandError(str(exc), EXIT_USAGE) from None
    service = _service(args)
    try:
        with _job_error_into_command_error():
            engine = service.ownership.mine()
            caches = list_engine_caches(service.runtime, service.store, engine.id if engine else "", project)
    except (RuntimeFailure, StoreError) as exc:
        raise CommandError(str(exc)) from None
    finally:
        service.close()
    if args.format == "json":
        print(json.dumps([c.to_dict() for c in caches], indent=2))
        return 0
    _print_caches(caches)
    return 0


def _print_caches(caches: list[Any]) -> None:
    from airflow_provider_dsjobs.documents.sizes import human_size

    rows = [_COLUMNS]
    for c in caches:
        used = c.last_used.strftime("%Y-%m-%d %H:%M:%S") if c.last_used else "?"
        size = "?" if c.size is None else human_size(c.size)
        rows.append((c.name, _cell(c.kind), _cell(c.project) or "-", size, used, "yes" if c.in_use else "no"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(_COLUMNS))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    if not caches:
        print("(no engine caches)")
