"""Packaging: Airflow and the docker provider are required dependencies, yet the core and the ``dsjobs`` CLI
never import Airflow (a subprocess in which every ``airflow`` import fails proves it)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from importlib.metadata import requires
from pathlib import Path

from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]

BLOCK_AIRFLOW = textwrap.dedent(
    """
    import sys

    class NoAirflow:
        def find_spec(self, name, path=None, target=None):
            if name == "airflow" or name.startswith("airflow."):
                raise ImportError(f"airflow is blocked in this test: {name}")
            return None

    sys.meta_path.insert(0, NoAirflow())
    """
)


def run_without_airflow(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "DSJOBS_HOME": str(tmp_path / "home"), "HOME": str(tmp_path)}
    return subprocess.run(
        [sys.executable, "-c", BLOCK_AIRFLOW + textwrap.dedent(code)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_airflow_docker_provider_and_asgiref_are_required_dependencies() -> None:
    required = {Requirement(r).name: Requirement(r) for r in requires("airflow-provider-dsjobs") or []}
    unconditional = {name for name, req in required.items() if req.marker is None}
    expected = {
        "apache-airflow",
        "apache-airflow-providers-common-compat",
        "apache-airflow-providers-docker",
        "asgiref",
    }
    assert expected <= unconditional
    # Airflow 3.0 and later (docs/howto/airflow-versions.md); never Airflow 2.
    assert all(required["apache-airflow"].specifier.contains(v) for v in ("3.0.0", "3.0.6", "3.3.0"))
    assert not required["apache-airflow"].specifier.contains("2.11.0")


def test_core_and_cli_work_without_importing_airflow(tmp_path: Path) -> None:
    done = run_without_airflow(
        """
        import airflow_provider_dsjobs.config, airflow_provider_dsjobs.jobs.service, airflow_provider_dsjobs.storage
        import airflow_provider_dsjobs.runtime, airflow_provider_dsjobs.settings
        from airflow_provider_dsjobs.cli.main import build_parser, main

        commands = set(build_parser()._subparsers._group_actions[0].choices)
        assert {"execute", "attach", "fork", "ls", "get", "logs", "cancel", "gc"} <= commands, commands
        code = main(["ls", "--format", "json"])
        assert code == 0, code
        assert not [m for m in sys.modules if m == "airflow" or m.startswith("airflow.")]
        print("core ok")
        """,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines() == ["[]", "core ok"]


def test_the_blocker_really_blocks_airflow(tmp_path: Path) -> None:
    done = run_without_airflow("import airflow_provider_dsjobs.operators", tmp_path)
    assert done.returncode != 0 and "airflow is blocked in this test" in done.stderr
