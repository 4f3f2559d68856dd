"""``dsjobs secret`` and ``dsjobs docker-image`` through ``main([...])`` and one real subprocess (stdin)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_dsjobs.cli.main import main
from airflow_provider_dsjobs.resources.secrets import FileSecretStore


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DSJOBS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DSJOBS_PROJECT", "p1")
    monkeypatch.delenv("DSJOBS_STORE", raising=False)
    return tmp_path / "home"


def _dsjobs(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "airflow_provider_dsjobs.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=60,
    )


def test_secret_value_comes_from_stdin_and_is_never_printed(home: Path) -> None:
    done = _dsjobs("secret", "set", "MY-SECRET", stdin="top-s3cret\n")
    assert done.returncode == 0, done.stderr
    assert "top-s3cret" not in done.stdout + done.stderr
    assert FileSecretStore(home, "p1").get("MY-SECRET") == "top-s3cret"  # the trailing newline is not the value
    listed = _dsjobs("secret", "ls")
    assert (listed.returncode, listed.stdout) == (0, "MY-SECRET\n")
    as_json = _dsjobs("secret", "ls", "--format", "json")
    assert json.loads(as_json.stdout) == ["MY-SECRET"]


def test_secret_value_is_never_an_argument(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["secret", "set", "NAME", "the-value"])
    assert exc.value.code == 2
    assert FileSecretStore(home, "p1").names() == []


def test_secret_rm_and_errors(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    FileSecretStore(home, "p1").set("A", "1")
    assert main(["secret", "rm", "A"]) == 0
    assert main(["secret", "rm", "A"]) == 1
    assert "dsjobs: no secret 'A' in project p1" in capsys.readouterr().err
    bad = _dsjobs("secret", "set", "has space", stdin="v")
    assert bad.returncode == 1 and "invalid secret name 'has space'" in bad.stderr and "Traceback" not in bad.stderr
    assert main(["secret", "ls", "--project", "p2"]) == 0
    assert capsys.readouterr().out == ""


def test_docker_image_add_ls_rm(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    add = ["docker-image", "add", "b1gimage000000000001", "registry.example.com/ml:1.2", "--username", "bot"]
    assert main([*add, "--password-secret-id", "REG-PASS"]) == 1  # the password binds the entry to its registry
    assert "secret 'REG-PASS' is not set here" in capsys.readouterr().err
    monkeypatch.setenv("DSJOBS_SECRET_REG_PASS", "reg-pass-value")
    assert (
        main(
            [
                "docker-image",
                "add",
                "b1gimage000000000001",
                "registry.example.com/ml:1.2",
                "--username",
                "bot",
                "--password-secret-id",
                "REG-PASS",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["docker-image", "ls", "--format", "json"]) == 0
    [entry] = json.loads(capsys.readouterr().out)
    assert (entry["id"], entry["image"], entry["password_secret_id"]) == (
        "b1gimage000000000001",
        "registry.example.com/ml:1.2",
        "REG-PASS",
    )
    assert main(["docker-image", "ls"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:2] == ["id", "image"] and table[1].startswith("b1gimage000000000001")
    assert main(["docker-image", "rm", "b1gimage000000000001"]) == 0
    assert main(["docker-image", "rm", "b1gimage000000000001"]) == 1
    assert main(["docker-image", "add", "x", "has space"]) == 1
    assert "invalid image reference 'has space'" in capsys.readouterr().err
