"""Smoke tests of the set-up scripts that are cheap to run: the paths a user hits when something is missing,
the idempotent paths, and the promise that CI runs exactly the README's test command."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPTS = REPO / "scripts"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_script_is_executable_and_strict() -> None:
    for path in [*SCRIPTS.glob("*.sh"), REPO / ".ci" / "run", REPO / "bench" / "run.sh"]:
        if path.name == "lib.sh":  # sourced, not run
            continue
        assert os.access(path, os.X_OK), f"{path} is not executable"
        text = path.read_text()
        assert text.startswith("#!/usr/bin/env bash\n"), path
        assert "set -euo pipefail" in text, path


def test_ci_runs_exactly_the_readme_test_command() -> None:
    readme = (REPO / "README.md").read_text()
    commands = re.findall(r"^\s*(\./scripts/\S+\.sh)\s*(?:#.*)?$", readme, flags=re.MULTILINE)
    assert commands[:2] == ["./scripts/run-example.sh", "./scripts/test.sh"], commands
    ci = (REPO / ".ci" / "run").read_text()
    assert re.search(r"^\./scripts/test\.sh$", ci, flags=re.MULTILINE), ci


def test_unknown_suite_is_one_clear_line() -> None:
    result = run(SCRIPTS / "build-test-image.sh", "jessie")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "build-test-image.sh: error: unknown suite 'jessie': use bookworm (Python 3.11), "
        "bullseye (3.9) or trixie (3.13)"
    ]


@pytest.mark.parametrize("version", ["3.0.6; touch PWNED", "../../tmp/x", "3.0", "2.11.0", "--help", "3.0.6 3.1.0"])
def test_airflow_venv_refuses_a_hostile_or_foreign_version_in_one_line(tmp_path: Path, version: str) -> None:
    """The version becomes a directory name and a pip requirement: only a 3.x.y release number gets that far."""
    result = run(SCRIPTS / "ensure-airflow-venv.sh", version, env={"DSJOBS_WORK": str(tmp_path)})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"ensure-airflow-venv.sh: error: airflow version '{version}' is not a 3.x.y release number (e.g. 3.0.6)"
    ]
    assert list(tmp_path.iterdir()) == []  # no venv, no log, nothing run
    assert not (REPO / "PWNED").exists()


def test_example_dags_refuse_a_venv_without_airflow_in_one_line(tmp_path: Path) -> None:
    result = run(SCRIPTS / "run-example-dags.sh", "--venv", str(tmp_path), env={"DSJOBS_WORK": str(tmp_path / "w")})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"run-example-dags.sh: error: no airflow in the virtualenv {tmp_path} "
        "(create it with scripts/ensure-airflow-venv.sh)"
    ]
    assert not (tmp_path / "w").exists()  # nothing migrated, no DAG run


def test_unreachable_remote_engine_is_reported_not_started(tmp_path: Path) -> None:
    # A remote engine is never started locally: one line naming it, exit 1, no dockerd log written.
    result = run(
        SCRIPTS / "ensure-docker.sh", env={"DSJOBS_DOCKER_URL": "tcp://127.0.0.1:9", "DSJOBS_WORK": str(tmp_path)}
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "ensure-docker.sh: error: the Docker engine at tcp://127.0.0.1:9 does not answer (docker info failed); "
        "start it or fix DOCKER_HOST"
    ]
    assert not (tmp_path / "dockerd.log").exists()


@pytest.mark.docker
def test_running_engine_and_existing_image_are_left_alone(docker_client: object, test_image: str) -> None:
    # The idempotent paths: an engine that answers and an image that exists cost well under the build time.
    started = time.monotonic()
    engine = run(SCRIPTS / "ensure-docker.sh")
    image = run(SCRIPTS / "build-test-image.sh", "bookworm", test_image)
    elapsed = time.monotonic() - started
    assert (engine.returncode, engine.stderr) == (0, "")
    assert (image.returncode, image.stderr) == (0, "")
    assert elapsed < 10, f"took {elapsed:.1f} s"


def test_a_pid_file_naming_a_reused_pid_is_dropped_and_a_live_owner_kept(tmp_path: Path) -> None:
    # The CI failure this guards: an engine's containerd.pid from an earlier run named, after pid reuse, an unrelated
    # process; dockerd trusted it and gave up after 15 s ("timeout waiting for containerd to start").
    unrelated = subprocess.Popen(["sleep", "300"])
    try:
        files = {name: tmp_path / f"{name}.pid" for name in ("reused", "dead", "owner")}
        files["reused"].write_text(str(unrelated.pid))  # alive, but not the expected command
        files["dead"].write_text("999999999\n")
        files["owner"].write_text(f"{unrelated.pid}\n")  # alive, right command and mark
        script = "\n".join(
            [
                f"source {SCRIPTS / 'lib.sh'}",
                f"drop_stale_pidfile {files['reused']} containerd /run/x/containerd.toml",
                f"drop_stale_pidfile {files['dead']} sleep ''",
                f"drop_stale_pidfile {files['owner']} sleep 300",
                f"drop_stale_pidfile {tmp_path / 'absent.pid'} sleep ''",
            ]
        )
        result = run("bash", "-euo", "pipefail", "-c", script)
        assert result.returncode == 0, result.stderr
        assert not files["reused"].exists() and not files["dead"].exists()
        assert files["owner"].read_text() == f"{unrelated.pid}\n"
        assert f"its pid {unrelated.pid} is not a running containerd" in result.stderr
    finally:
        unrelated.kill()
        unrelated.wait()
