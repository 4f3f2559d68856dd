"""`dsjobs --help` and `dsjobs validate` start without the core: building the parser imports no command handler, and
`validate` imports the config package only (no Docker SDK, boto3, Airflow, requests or job service). The timings
are in bench/bench_cli_start.py; these tests check what is imported, which is what makes the start slow."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_dsjobs.cli import main as cli_main
from airflow_provider_dsjobs.cli.arguments import FAMILIES
from airflow_provider_dsjobs.cli.arguments import common as arguments_common
from airflow_provider_dsjobs.cli.arguments import jobs as job_arguments
from airflow_provider_dsjobs.cli.arguments.common import Handler

from ..config.helpers import make_job_dir, write_fixture

#: What a fast start must not import (the prefix of a module name).
HEAVY = (
    "docker",
    "boto3",
    "botocore",
    "airflow",
    "requests",
    "airflow_provider_dsjobs.jobs",
    "airflow_provider_dsjobs.runtime",
    "airflow_provider_dsjobs.storage",
)


#: Runs ``python -m airflow_provider_dsjobs.cli`` and, however it exits, writes the names in ``sys.modules`` to
#: the file named by its first argument (``-X importtime`` misses modules imported by ``importlib``).
_RUN_CLI = """
import json, runpy, sys
modules_file = sys.argv.pop(1)
try:
    runpy.run_module("airflow_provider_dsjobs.cli", run_name="__main__", alter_sys=True)
finally:
    with open(modules_file, "w") as f:
        json.dump(sorted(sys.modules), f)
"""


def _imported(*args: str, tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run ``python -m airflow_provider_dsjobs.cli ARGS`` in a fresh interpreter: the result and every module it
    had imported when it exited."""
    modules_file = tmp_path / "modules.json"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.run(
        [sys.executable, "-c", _RUN_CLI, str(modules_file), *args], capture_output=True, text=True, env=env, timeout=120
    )
    return proc, set(json.loads(modules_file.read_text()))


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_help_imports_no_command_handler_and_no_core(tmp_path: Path) -> None:
    proc, modules = _imported("--help", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "validate" in proc.stdout and "execute" in proc.stdout  # the whole help, every command
    assert "airflow_provider_dsjobs.cli.main" in modules  # the list is real
    assert _heavy(modules) == []
    assert not [m for m in modules if m.endswith("_commands")]
    assert not [m for m in modules if m.startswith("airflow_provider_dsjobs.config")]


def test_command_help_imports_no_handler(tmp_path: Path) -> None:
    proc, modules = _imported("execute", "--help", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "--config" in proc.stdout
    assert _heavy(modules) == []
    assert "airflow_provider_dsjobs.cli.job_commands" not in modules


def test_validate_imports_the_config_package_only(tmp_path: Path) -> None:
    path = write_fixture(make_job_dir(tmp_path / "job"), "seed000_full.yaml")
    proc, modules = _imported("validate", str(path), tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == f"{path}: valid"
    assert "airflow_provider_dsjobs.config.loader" in modules
    assert _heavy(modules) == []
    assert [m for m in modules if m.endswith("_commands")] == ["airflow_provider_dsjobs.cli.config_commands"]


def test_invalid_config_is_reported_without_the_core(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("cmd: python run.py\nnot-a-key: 1\n")
    proc, modules = _imported("validate", str(config), tmp_path=tmp_path)
    assert proc.returncode == 1
    assert "not-a-key" in proc.stderr and "invalid (1 problem" in proc.stderr
    assert _heavy(modules) == []


def test_validate_leaves_out_the_libraries_jsonschema_only_needs_for_formats(tmp_path: Path) -> None:
    path = write_fixture(make_job_dir(tmp_path / "job"), "seed000_full.yaml")
    proc, modules = _imported("validate", str(path), tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "jsonschema" in modules
    assert sorted(m for m in modules if m.split(".")[0] in cli_main._FORMAT_CHECKER_LIBRARIES) == []


def test_the_config_schema_asks_for_no_format_check() -> None:
    """What makes leaving the format libraries out safe: no ``format`` keyword anywhere in the schema."""
    from airflow_provider_dsjobs.config.schema import load_schema

    def formats(node: object) -> list[str]:
        """Every ``format`` keyword (a string value; a property named "format" would hold a schema)."""
        if isinstance(node, dict):
            own = [node["format"]] if isinstance(node.get("format"), str) else []
            return own + [f for v in node.values() for f in formats(v)]
        return [f for v in node for f in formats(v)] if isinstance(node, list) else []

    assert formats(load_schema()) == []


def test_validate_reports_the_same_with_and_without_the_format_libraries(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("cmd: python run.py\nnot-a-key: 1\ninputs: 3\nflags: [x]\nenv: {vars: [{A: 1}]}\n")
    proc, _ = _imported("validate", str(config), tmp_path=tmp_path)  # a dsjobs process: left out
    assert cli_main.main(["validate", str(config)]) == proc.returncode == 1  # this process: as installed
    assert capsys.readouterr().err == proc.stderr
    assert "idna" not in sys.modules or sys.modules["idna"] is not None  # nothing hidden here, before or after


def test_importing_the_package_imports_nothing_else() -> None:
    code = "import sys, airflow_provider_dsjobs; print(sorted(m for m in sys.modules if m.startswith('airflow_p')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['airflow_provider_dsjobs']"


# -- the arguments and their handlers ------------------------------------------------------------------------


def _parsers(parser: argparse.ArgumentParser, path: str = "dsjobs") -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, f"{path} {name}")


def test_every_command_names_a_handler_that_exists() -> None:
    handlers = {
        path: sub.get_default("func")
        for path, sub in _parsers(cli_main.build_parser())
        if isinstance(sub.get_default("func"), Handler)
    }
    assert len(handlers) > 40
    for path, handler in handlers.items():
        func = getattr(importlib.import_module(handler.module), handler.name, None)
        assert callable(func), f"{path}: {handler} does not exist"


def test_every_family_declares_the_commands_it_registers() -> None:
    for family in FAMILIES:
        parser = argparse.ArgumentParser()
        subparsers = parser.add_subparsers()
        family.register(subparsers)
        assert set(subparsers.choices) == set(family.COMMANDS), family.__name__


def test_argument_constants_match_the_core() -> None:
    from airflow_provider_dsjobs.jobs.query import MAX_PAGE
    from airflow_provider_dsjobs.settings import IMAGE_PULL_POLICIES

    assert arguments_common.IMAGE_PULL_POLICIES == IMAGE_PULL_POLICIES
    assert job_arguments.MAX_PAGE == MAX_PAGE


def _comparable(args: argparse.Namespace) -> dict[str, object]:
    return {key: repr(value) if key == "func" else value for key, value in vars(args).items()}


@pytest.mark.parametrize(
    "argv",
    [
        ["validate", "c.yaml", "--format", "json"],
        ["--debug", "-l", "DEBUG", "validate", "c.yaml"],
        ["-t", "validate", "--profile=x", "execute", "-c", "c.yaml", "--pull", "never"],  # a value like a command
        ["--prof", "validate", "execute", "-c", "c.yaml"],  # --profile abbreviated: the whole parser reads it
        ["project", "job", "list", "--limit", "3"],
        ["docker-image", "add", "img", "registry.example/x:1", "--username", "u"],
        ["env", "build", "code", "--image", "i"],
        ["version"],
    ],
)
def test_the_family_parser_parses_as_the_whole_parser(argv: list[str]) -> None:
    assert _comparable(cli_main.parse_args(argv)) == _comparable(cli_main.build_parser().parse_args(argv))


@pytest.mark.parametrize(
    "argv",
    [
        ["validate"],  # a missing argument
        ["validate", "c.yaml", "--format", "xml"],
        ["--prof", "validate", "execute"],  # an abbreviated option before the command
        ["validatex", "c.yaml"],
        ["execute", "-c", "c.yaml", "--bogus"],
    ],
)
def test_usage_errors_read_as_from_the_whole_parser(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as whole:
        cli_main.build_parser().parse_args(argv)
    expected = capsys.readouterr()
    with pytest.raises(SystemExit) as run:
        cli_main.main(argv)
    assert run.value.code == whole.value.code == cli_main.EXIT_USAGE
    assert capsys.readouterr() == expected
