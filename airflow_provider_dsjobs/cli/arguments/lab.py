"""``dsjobs run``, ``dsjobs lab-data ls|clear`` and ``dsjobs env build`` (handlers in ``lab_commands``)."""

from __future__ import annotations

from typing import Any

from airflow_provider_dsjobs.cli.arguments.common import Handler, common

#: The top-level commands ``register`` adds.
COMMANDS = ("run", "lab-data")


def _handler(name: str) -> Handler:
    return Handler("lab_commands", name)


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
    common(p)
    p.set_defaults(func=_handler("cmd_run"))

    p = subparsers.add_parser("lab-data", help="the /data volumes of named ML Lab jobs")
    sub = p.add_subparsers(dest="lab_data_command", metavar="COMMAND", required=True)
    q = sub.add_parser("ls", help="list the /data volumes of the project")
    common(q)
    q.set_defaults(func=_handler("cmd_lab_data_ls"))
    q = sub.add_parser("clear", help="remove the /data volume of a job name (or all of the project)")
    q.add_argument("name", nargs="?", help="job name")
    q.add_argument("--all", action="store_true", help="every /data volume of the project")
    common(q)
    q.set_defaults(func=_handler("cmd_lab_data_clear"))


def register_env_build(env_subparsers: Any) -> None:
    """``dsjobs env build``, registered by ``arguments.env`` into its ``env`` family."""
    p = env_subparsers.add_parser("build", help="pre-build the environment of an EXECUTE_CODE directory")
    p.add_argument("code", metavar="CODE", help="code directory, git+URL or store:KEY (as EXECUTE_CODE)")
    p.add_argument("--image", required=True, help="the image the code will run in")
    p.add_argument("--name", help="job name of the build (default: generated)")
    common(p)
    p.set_defaults(
        func=_handler("cmd_env_build"),
        param=[],
        is_async=False,
        requirements_only=True,
        execute_code=None,
        cloud_instance_type=[],
        code_only=False,
        allow_internal_params=False,
    )
