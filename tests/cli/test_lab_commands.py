"""``dsjobs run`` (ML Lab jobs), ``dsjobs env build`` and ``dsjobs lab-data`` through ``main([...])`` and one real
Ctrl+C in a subprocess, on a real Docker engine: the same output, exit codes and interrupt behaviour as
``execute``."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_dsjobs.cli.main import main
from airflow_provider_dsjobs.documents.record import JobStatus
from airflow_provider_dsjobs.jobs.service import JobService
from airflow_provider_dsjobs.settings import Settings
from tests.cli.interrupt import interrupt_when_ready
from tests.lab.helpers import make_repo, write


@pytest.fixture()
def cli(lab_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setenv("DSJOBS_HOME", str(lab_settings.home))
    monkeypatch.delenv("DSJOBS_STORE", raising=False)
    return ["--store", str(lab_settings.store_url), "--project", lab_settings.project]


def test_run_image_prints_its_output_and_exit_code(
    cli: list[str], lab_image: str, capsys: pytest.CaptureFixture[str], lab_settings: Settings
) -> None:
    assert main(["run", "--image", lab_image, "--name", "cli", "--param", "TARGET=cli", *cli]) == 0
    out, err = capsys.readouterr()
    assert "greeting: hello cli" in out.splitlines()
    assert "created job " in err and "finished: SUCCESS" in err
    assert main(["run", "--image", lab_image, "--param", "EXIT_CODE=2", *cli]) == 1
    _, err = capsys.readouterr()
    assert "finished: ERROR" in err
    assert main(["ls", *cli]) == 0
    out, _ = capsys.readouterr()
    assert out.count("\n") == 3  # header + both lab jobs, listed like any job
    assert main(["lab-data", "ls", *cli]) == 0
    out, _ = capsys.readouterr()
    assert out.startswith("cli\tdsjobs-lab-data-cli-")


def test_run_async_prints_the_id(cli: list[str], lab_image: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--image", lab_image, "--async", *cli]) == 0
    job_id = capsys.readouterr().out.strip()
    assert main(["attach", "--id", job_id, *cli]) == 0
    assert "greeting: hello world" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--param", "NOEQUALS"], 1, "--param: invalid name-value pair"),
        (["--execute-code", "git+file:///nonexistent/x@main"], 1, "cannot fetch file:///nonexistent/x"),
        (["--execute-code", "missing-dir"], 1, "no such file or directory"),
        (["--param", "EXECUTE_CODE=."], 1, "a run-time value (a param, run conf or a templated field) may not"),
        (["--param", "EXECUTE_CODE=git+file:///etc"], 1, "DSJOBS_LAB_CODE_ROOTS"),
        (["--param", "EXECUTE_CODE=git+--upload-pack=touch${IFS}x;:x"], 1, "not a git URL"),
        (["--execute-code", "git+ext::sh -c id"], 1, "remote helpers (transport::address, like ext::)"),
    ],
)
def test_bad_input_is_one_line(
    cli: list[str], lab_image: str, capsys: pytest.CaptureFixture[str], args: list[str], code: int, message: str
) -> None:
    assert main(["run", "--image", lab_image, *args, *cli]) == code
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1


def test_usage_error_exits_2(cli: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["run", *cli])
    assert info.value.code == 2


def test_env_build_warms_the_cache(
    cli: list[str], lab_image: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = tmp_path / "code"
    write(code, {"__main__.py": "print('ran')\n", "setup.sh": "echo setting up\n"})
    make_repo(code, {})
    assert main(["env", "build", f"git+file://{code}", "--image", lab_image, *cli]) == 0
    out, err = capsys.readouterr()
    assert "setting up" in out and "ran" not in out.splitlines()
    assert "dependencies are installed" in out and "at commit " in err


def test_ctrl_c_cancels_and_exits_130(cli: list[str], lab_settings: Settings, lab_image: str, tmp_path: Path) -> None:
    write(tmp_path / "code", {"__main__.py": "import time\nprint('ready', flush=True)\ntime.sleep(120)\n"})
    argv = ["run", "--image", lab_image, "--execute-code", str(tmp_path / "code"), *cli]
    code, err = interrupt_when_ready(argv)
    assert code == 130, err
    assert "cancelling job" in err
    (record,) = JobService(lab_settings).list_jobs()
    assert record.status == JobStatus.CANCELLED
