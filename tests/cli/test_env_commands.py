from __future__ import annotations

import contextlib
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dsjobs.cli.main import main
from airflow_provider_dsjobs.pyenv.cache import ensure_env_volume
from tests.pyenv.helpers import build_wheel, unique_plan, write


@pytest.mark.docker
def test_env_ls_and_clear(
    docker_client: Any,
    docker_engine: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import docker.errors

    plan = unique_plan(tmp_path, project="cli-project")
    ensure_env_volume(plan, docker_engine)
    try:
        assert main(["env", "ls", "--format", "json"]) == 0
        listed = json.loads(capsys.readouterr().out)
        mine = [e for e in listed if e["name"] == plan.volume_name]
        assert mine == [
            {
                "name": plan.volume_name,
                "hash": plan.env_hash,
                "version": "3.11",
                "image": plan.image,
                "created_at": mine[0]["created_at"],
                "size_bytes": None,
                "project": "cli-project",
            }
        ]
        assert main(["env", "ls"]) == 0
        table = capsys.readouterr().out
        assert table.splitlines()[0].split() == ["HASH", "PYTHON", "IMAGE", "CREATED", "VOLUME"]
        assert any(line.startswith(plan.env_hash[:16]) and plan.volume_name in line for line in table.splitlines())

        assert main(["env", "ls", "--size"]) == 0
        sized = capsys.readouterr().out.splitlines()
        assert sized[0].split()[-1] == "SIZE"
        assert any(line.startswith(plan.env_hash[:16]) and line.endswith(" B") for line in sized)

        assert main(["env", "clear", "--hash", plan.env_hash[:16]]) == 0
        assert capsys.readouterr().out == f"removed {plan.volume_name}\n"
        with pytest.raises(docker.errors.NotFound):
            docker_client.volumes.get(plan.volume_name)
        assert main(["env", "clear", "--hash", plan.env_hash[:16]]) == 1
        assert "no cached Python environment has a hash starting with" in capsys.readouterr().err
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            docker_client.volumes.get(plan.volume_name).remove(force=True)


def test_env_clear_without_a_target_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["env", "clear"]) == 2
    assert "--hash H" in capsys.readouterr().err


def test_env_ls_with_unreachable_engine_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DSJOBS_DOCKER_URL", "unix:///nonexistent/docker.sock")
    assert main(["env", "ls"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("dsjobs: cannot reach the Docker engine at unix:///nonexistent/docker.sock: ")
    assert len(err.strip().splitlines()) == 1


def test_env_ls_on_a_tcp_engine_without_tls_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DSJOBS_DOCKER_ALLOW_INSECURE", raising=False)
    monkeypatch.delenv("DOCKER_TLS_VERIFY", raising=False)
    monkeypatch.setenv("DSJOBS_DOCKER_URL", "tcp://127.0.0.1:2375")
    assert main(["env", "ls"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dsjobs: refusing the Docker engine at tcp://127.0.0.1:2375 without TLS: ")
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("command", [["env", "ls"], ["env", "clear", "--all"], ["generate-requirements", "x.py"]])
def test_env_commands_with_a_bad_setting_are_one_usage_line(
    command: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DSJOBS_LOCAL_FSYNC", "maybe")
    assert main(command) == 2
    err = capsys.readouterr().err
    assert err.startswith("dsjobs: invalid environment: DSJOBS_LOCAL_FSYNC must be 1 or 0")
    assert err.endswith("got 'maybe'\n") and err.count("\n") == 1


@pytest.fixture()
def submitting_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project dir as cwd, with a site dir holding 'tinypkg' on sys.path."""
    site = tmp_path / "site"
    zipfile.ZipFile(build_wheel(tmp_path, "tinypkg", "1.0.0", {"tinypkg/__init__.py": ""})).extractall(site)
    monkeypatch.syspath_prepend(str(site))
    project = tmp_path / "project"
    write(project, {"train.py": "import os\nimport tinypkg\nimport helpers\n", "helpers.py": "import json\n"})
    monkeypatch.chdir(project)
    return project


def test_generate_requirements_prints_pinned_requirements(
    submitting_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["generate-requirements", "train.py"]) == 0
    assert capsys.readouterr().out == "tinypkg==1.0.0\n"


def test_generate_requirements_to_file(submitting_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate-requirements", "train.py", "-o", "reqs.txt"]) == 0
    assert (submitting_env / "reqs.txt").read_text() == "tinypkg==1.0.0\n"


def test_generate_requirements_reports_unresolvable_imports(
    submitting_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (submitting_env / "bad.py").write_text("import tinypkg\nimport surely_not_installed_pkg\n")
    assert main(["generate-requirements", "bad.py"]) == 1
    err = capsys.readouterr().err
    assert "surely_not_installed_pkg (imported at bad.py:2)" in err
    assert "Traceback" not in err
