"""`dsjobs validate` and `dsjobs schema` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from airflow_provider_dsjobs.cli.main import main

from ..config.helpers import make_job_dir, write_fixture


@pytest.fixture
def job_dir(tmp_path: Path) -> Path:
    return make_job_dir(tmp_path / "job")


def test_validate_valid_text(job_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_fixture(job_dir, "seed000_full.yaml")
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr()
    assert out.out.strip().splitlines()[-1] == f"{path}: valid"


def test_validate_prints_warnings(job_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_fixture(job_dir, "seed000_registry_docker.yaml")
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"warning: {path}:11:14: env.python.version: Python version will be reduced" in out
    assert out.endswith(f"{path}: valid\n")


def test_validate_warns_of_a_fully_manual_env_without_its_entry_script(
    job_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (job_dir / "src").mkdir(exist_ok=True)
    (job_dir / "src" / "main.py").write_text("print('hi')\n")
    (job_dir / "requirements.txt").write_text("tinypkg==1.0\n")
    (job_dir / "lib").mkdir(exist_ok=True)
    text = (
        "cmd: python src/main.py\nenv:\n  python:\n    type: manual\n    version: '3.11'\n"
        "    requirements-file: requirements.txt\n    local-paths: [lib]\n"
    )
    path = job_dir / "config.yaml"
    path.write_text(text)
    assert main(["validate", str(path)]) == 0  # still valid: the official CLI takes it too
    out = capsys.readouterr().out
    assert f"warning: {path}: env.python: entry script 'src/main.py' of cmd is in neither `inputs` nor" in out
    path.write_text(text + "inputs: [src/main.py]\n")
    assert main(["validate", str(path)]) == 0
    assert "warning" not in capsys.readouterr().out


def test_validate_json_prints_normalized_config(job_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_fixture(job_dir, "seed001_full_ru.yaml")
    assert main(["validate", "--format", "json", str(path)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["cloud-instance-types"] == ["g2.1"]
    assert data["env"]["vars"][0] == {"name": "PYTHONBUFFERED", "value": "Yes"}
    assert data["working-storage"] is None
    assert data["inputs"][1] == {"path": f"{job_dir}/share/params.json", "var": "PARAMS"}


def test_validate_invalid_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("cmd: echo ${X}\nouputs: []\n")
    assert main(["validate", str(path)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"{path}:1:11: cmd: `${{X}}` is not declared (declared variables: none; a shell variable is written `$NAME`)",
        f"{path}:2:1: ouputs: unknown key `ouputs` (did you mean `outputs`?)",
        f"{path}: invalid (2 problems)",
    ]


def test_validate_invalid_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("name: x\n")
    assert main(["validate", "--format", "json", str(path)]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data == {
        "valid": False,
        "problems": [
            {
                "source": str(path),
                "line": 1,
                "column": 1,
                "key_path": "",
                "message": "`cmd` is required (the command to run, in a shell)",
            }
        ],
    }


@pytest.mark.parametrize("name", ["missing.yaml", "."])
def test_validate_unreadable_file_is_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    path = tmp_path / name
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"dsjobs: cannot read config {path}: ")
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_validate_binary_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe")
    assert main(["validate", str(path)]) == 1
    err = capsys.readouterr().err
    assert "not UTF-8 text" in err and "Traceback" not in err


def test_validate_without_argument_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["validate"])
    assert info.value.code == 2


def test_schema_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    Draft202012Validator.check_schema(schema)
    assert "cmd" in schema["required"]
