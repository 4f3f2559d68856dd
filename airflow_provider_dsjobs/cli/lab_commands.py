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
    _common,
    _info,
    _job_error_into_command_error,
    _pairs,
    _service,
    _watch,
)

if TYPE_CHECKING:
    from airflow_provider_dsjobs.runtime.containers import Runtime


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("run", help="run an image as an ML Lab job (its own CMD, or EXECUTE_CODE)")
    p.add_argument("--image", required=True, help="the job's Docker image")
    p.add_argument("--name", help="job name (default: generated); runs with the same name share /data")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="an env var for the job")
    p.add_argument("--execute-code", metavar="CODE", help="git+URL[@ref][#subdirectory=DIR], a path or store:KEY")
    p.add_argument(
        "--requirements-only", action="store_true", help="install the code's dependencies into the cache, do not run"
    )
    p.add_argument(
        "--code-only",
        action="store_true",
        help="run the code without its dependency files (environment.yml, setup.sh, requirements.txt)",
    )
    p.add_argument(
        "--allow-internal-params",
        action="store_true",
        help="let --param set variables the image marks internal (ENV names starting with _)",
    )
    p.add_argument(
        "--cloud-instance-type",
        action="append",
        default=[],
        metavar="TYPE",
        help="an instance type (repeat, in priority order; default: the engine's resources)",
    )
    p.add_argument("--async", dest="is_async", action="store_true", help="print the job id and return at once")
    _common(p)
    p.set_defaults(func=cmd_run)

    p = subparsers.add_parser("lab-data", help="the /data volumes of named ML Lab jobs")
    sub = p.add_subparsers(dest="lab_data_command", metavar="COMMAND", required=True)
    q = sub.add_parser("ls", help="list the /data volumes of the project")
    _common(q)
    q.set_defaults(func=cmd_lab_data_ls)
    q = sub.add_parser("clear", help="remove the /data volume of a job name (or all of the project)")
    q.add_argument("name", nargs="?", help="job name")
    q.add_argument("--all", action="store_true", help="every /data volume of the project")
    _common(q)
    q.set_defaults(func=cmd_lab_data_clear)


def register_env_build(env_subparsers: Any) -> None:
    """``dsjobs env build``, registered by ``env_commands`` into its ``env`` family."""
    p = env_subparsers.add_parser("build", help="pre-build the environment of an EXECUTE_CODE directory")
    p.add_argument("code", metavar="CODE", help="code directory, git+URL or store:KEY (as EXECUTE_CODE)")
    p.add_argument("--image", required=True, help="the image the code will run in")
    p.add_argument("--name", help="job name of the build (default: generated)")
    _common(p)
    p.set_defaults(
        func=cmd_env_build,
        param=[],
        is_async=False,
        requirements_only=True,
        execute_code=None,
        cloud_instance_type=[],
        code_only=False,
        allow_internal_params=False,
    )


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
