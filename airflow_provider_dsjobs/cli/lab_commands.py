"""``dsjobs run`` (an ML Lab job: an image, or code through ``EXECUTE_CODE``), ``dsjobs env build`` (warm a code
directory's environment) and ``dsjobs lab-data ls|clear`` (the ``/data`` volumes).

``run`` prints and exits like ``execute``: the job's output on stdout/stderr, the CLI's own lines on stderr, exit
0 on success, 1 for a failed job or bad input (one line), 2 for a usage error, 130 after Ctrl+C (the first cancels
the job gracefully — SIGTERM, 10 s — the second kills it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_provider_dsjobs.cli.errors import EXIT_OK, CommandError
from airflow_provider_dsjobs.cli.job_commands import (
    _info,
    _job_error_into_command_error,
    _pairs,
    _service,
    _watch,
)

if TYPE_CHECKING:
    from airflow_provider_dsjobs.runtime.containers import Runtime


def _config(args: argparse.Namespace, code: str | None) -> Any:
    from airflow_provider_dsjobs.lab.config import LabError, LabJobConfig

    try:
        return LabJobConfig(
            image=args.image,
            name=args.name,
            params=_pairs(args.param, "--param"),
            execute_code=code,
            requirements_only=args.requirements_only,
            cloud_instance_types=args.cloud_instance_type,
            code_only=args.code_only,
            allow_internal_params=args.allow_internal_params,
        )
    except LabError as exc:
        raise CommandError(str(exc)) from None


def _run(args: argparse.Namespace, code: str | None) -> int:
    from airflow_provider_dsjobs.lab.handler import submit_lab_job

    config = _config(args, code)
    service = _service(args)
    with _job_error_into_command_error():
        record = submit_lab_job(service, config, notify=_info, base_dir=Path.cwd(), progress_stream=sys.stderr)
        if args.is_async:
            print(record.id)
            return EXIT_OK
        return _watch(service, record.id)


def cmd_run(args: argparse.Namespace) -> int:
    return _run(args, args.execute_code)


def cmd_env_build(args: argparse.Namespace) -> int:
    return _run(args, args.code)


def _docker(args: argparse.Namespace) -> tuple[Runtime, str]:
    """The Docker engine's runtime (volumes are Docker's) and the project, from the command's settings."""
    from airflow_provider_dsjobs.cli.job_commands import settings_from_args
    from airflow_provider_dsjobs.runtime.containers import Runtime
    from airflow_provider_dsjobs.runtime.errors import RuntimeFailure

    settings = settings_from_args(args)
    try:
        return Runtime.connect(settings), settings.project
    except RuntimeFailure as exc:
        raise CommandError(str(exc)) from None


def cmd_lab_data_ls(args: argparse.Namespace) -> int:
    from airflow_provider_dsjobs.lab.data import list_data_volumes
    from airflow_provider_dsjobs.runtime.errors import RuntimeFailure

    runtime, project = _docker(args)
    try:
        volumes = list_data_volumes(runtime, project)
    except RuntimeFailure as exc:
        raise CommandError(str(exc)) from None
    finally:
        runtime.close()
    for name, volume in volumes.items():
        print(f"{name}\t{volume}")
    return EXIT_OK


def cmd_lab_data_clear(args: argparse.Namespace) -> int:
    from airflow_provider_dsjobs.lab.data import clear_data_volume, list_data_volumes
    from airflow_provider_dsjobs.runtime.errors import RuntimeFailure

    if bool(args.name) == bool(args.all):
        raise CommandError("give a job name or --all", code=2)
    runtime, project = _docker(args)
    try:
        names = list(list_data_volumes(runtime, project)) if args.all else [args.name]
        for name in names:
            if clear_data_volume(runtime, project, name):
                _info(f"cleared /data of job name {name!r}")
            else:
                _info(f"no /data volume for job name {name!r} in project {project}")
    except RuntimeFailure as exc:
        raise CommandError(str(exc)) from None
    finally:
        runtime.close()
    return EXIT_OK
