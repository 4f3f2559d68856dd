"""What the argument modules share: lazy handlers and the options many commands take."""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path


class Handler:
    """A command's function ``module.name(args) -> int``, imported when the command runs (not when the parser is
    built). ``module`` is a module of ``airflow_provider_dsjobs.cli``."""

    def __init__(self, module: str, name: str) -> None:
        self.module = f"airflow_provider_dsjobs.cli.{module}"
        self.name = name

    def __call__(self, args: argparse.Namespace) -> int | None:
        func = getattr(importlib.import_module(self.module), self.name)
        result: int | None = func(args)
        return result

    def __repr__(self) -> str:
        return f"Handler({self.module}.{self.name})"


#: The image pull policies ``--pull`` accepts (``settings.IMAGE_PULL_POLICIES``; a test keeps them equal).
IMAGE_PULL_POLICIES = ("always", "if-missing", "never")


def common(parser: argparse.ArgumentParser) -> None:
    """``--store``, ``--docker-url`` and ``--project``: where a command finds the store, the engine, the project."""
    parser.add_argument("--store", metavar="URL", help="object store: s3://bucket/prefix or file:///dir (DSJOBS_STORE)")
    parser.add_argument("--docker-url", metavar="URL", help="Docker engine (DSJOBS_DOCKER_URL / DOCKER_HOST)")
    parser.add_argument(
        "-p", "--project", "--project-id", dest="project", help="project name in the store (DSJOBS_PROJECT)"
    )


def pull(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--pull",
        choices=IMAGE_PULL_POLICIES,
        help="when to pull the job's image (DSJOBS_IMAGE_PULL_POLICY; default if-missing)",
    )


def python_interpreter(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--python-interpreter",
        metavar="PATH",
        help="interpreter or virtualenv whose installed packages pin env.python: auto imports; it is not run "
        "(DSJOBS_PYTHON_INTERPRETER; default: the one running dsjobs)",
    )


def job_id(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--id", required=True, dest="job_id", help="job id")


def output_format(parser: argparse.ArgumentParser) -> None:
    """``--format table|json`` and ``-o FILE``, as ``ls``/``get`` take them."""
    parser.add_argument("--format", choices=("table", "json"), default="table", help="output format")
    output(parser, "write to FILE instead of standard output")


def output(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument("-o", "--output", type=Path, metavar="FILE", help=help_text)


def add_format(parser: argparse.ArgumentParser) -> None:
    """``--format table|json`` alone (the resource commands)."""
    parser.add_argument("--format", choices=("table", "json"), default="table", help="output format")
