"""``dsjobs`` job commands through ``main([...])`` (and one real Ctrl+C in a subprocess), on a real Docker engine."""

from __future__ import annotations

import dataclasses
import json
import threading
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dsjobs.cli.main import main
from airflow_provider_dsjobs.documents.record import JobRecord, JobStatus
from airflow_provider_dsjobs.jobs.service import JobService
from airflow_provider_dsjobs.jobs.store import JobStore
from airflow_provider_dsjobs.settings import Settings
from airflow_provider_dsjobs.storage.open import open_store
from tests.cli.interrupt import interrupt_when_ready
from tests.jobs.service_helpers import wait_for, write_job

pytestmark = [pytest.mark.docker]


@pytest.fixture()
def cli_env(local_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Environment for the CLI; returns the common options (``--store``, ``--project``)."""
    monkeypatch.setenv("DSJOBS_DEFAULT_IMAGE", local_settings.default_image)
    monkeypatch.setenv("DSJOBS_HOME", str(local_settings.home))
    monkeypatch.delenv("DSJOBS_STORE", raising=False)
    return ["--store", str(local_settings.store_url), "--project", local_settings.project]


JOB = """
name: cli-job
cmd: |
  echo "n=${N}" > ${RESULT}
  mkdir -p plots && echo png > plots/p1.png
  echo "to stdout ${N}"
  echo "to stderr" >&2
  exit ${CODE}
args:
  N: "1"
  CODE: "0"
outputs:
  - result.txt: RESULT
  - plots
"""


def test_execute_success_and_failure(
    cli_env: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DSJOBS_CONSOLE_URL", "https://console.example/{project}/jobs/{job_id}")
    cfg = write_job(tmp_path / "ok", JOB)
    assert main(["execute", "-c", str(cfg), *cli_env]) == 0
    out, err = capsys.readouterr()
    assert f"job link: https://console.example/{cli_env[3]}/jobs/j" in err
    assert "to stdout 1" in out.splitlines() and "to stderr" not in out
    assert "to stderr" in err.splitlines() and "finished: SUCCESS" in err
    assert (tmp_path / "ok" / "result.txt").read_text() == "n=1\n"
    assert (tmp_path / "ok" / "plots" / "p1.png").read_text() == "png\n"

    bad = write_job(tmp_path / "bad", JOB.replace('CODE: "0"', 'CODE: "4"'))
    assert main(["execute", "-c", str(bad), *cli_env]) == 1
    _, err = capsys.readouterr()
    assert "ERROR: program exited with code 4" in err
    assert (tmp_path / "bad" / "result.txt").read_text() == "n=1\n"  # outputs come back on failure too


def test_async_attach_ls_get_logs_ttl_download_fork(
    cli_env: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_job(tmp_path / "job", JOB)
    assert main(["execute", "-c", str(cfg), "--async", *cli_env]) == 0
    job_id = capsys.readouterr().out.strip()
    assert job_id.startswith("j")

    assert main(["attach", "--id", job_id, *cli_env]) == 0
    out, err = capsys.readouterr()
    assert "to stdout 1" in out and "finished: SUCCESS" in err

    assert main(["ls", "--format", "json", *cli_env]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [j["id"] for j in listed] == [job_id] and listed[0]["status"] == "SUCCESS"

    assert main(["ls", *cli_env]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["id", "name", "status"] and table[1].split()[:3] == [job_id, "cli-job", "SUCCESS"]

    assert main(["get", "--id", job_id, "--format", "json", *cli_env]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["id"] == job_id and got["return_code"] == 0 and set(got["outputs"]) == {"RESULT", "plots"}

    assert main(["logs", "--id", job_id, *cli_env]) == 0
    out, err = capsys.readouterr()
    assert "to stdout 1" in out.splitlines() and "to stderr" in err.splitlines()
    assert main(["logs", "--id", job_id, "--tail", "1", *cli_env]) == 0
    out, err = capsys.readouterr()
    assert out == "exit code 0; SUCCESS\n"

    assert main(["set-data-ttl", "--id", job_id, "--days", "infinity", *cli_env]) == 0
    assert "expires never" in capsys.readouterr().err
    assert main(["set-data-ttl", "--id", job_id, "--days", "0", *cli_env]) == 1
    assert "TTL days should be positive" in capsys.readouterr().err
    assert main(["set-data-ttl", "--id", job_id, "--days", "30", *cli_env]) == 0
    capsys.readouterr()

    dest = tmp_path / "dl"
    assert main(["download-files", "--id", job_id, "--output-dir", str(dest), "--with-logs", *cli_env]) == 0
    printed = capsys.readouterr().out.split()
    assert (dest / "result.txt").read_text() == "n=1\n" and (dest / "plots" / "p1.png").exists()
    assert str(dest / f"{job_id}.log.txt") in printed

    assert main(["fork", "--id", job_id, "--arg", "N=9", "--name", "forked", *cli_env]) == 0
    out, err = capsys.readouterr()
    assert "to stdout 9" in out and "fork of " + job_id in err
    assert (tmp_path / "job" / "result.txt").read_text() == "n=9\n"
    assert main(["fork", "--id", job_id, "--var", "RESULT=renamed.txt", "--arg", "N=3", *cli_env]) == 0
    capsys.readouterr()
    assert (tmp_path / "job" / "renamed.txt").read_text() == "n=3\n"
    forks = JobService(dataclasses.replace(Settings.from_env(), store_url=cli_env[1], project=cli_env[3])).list_jobs()
    assert [r.parent_job_id for r in forks] == [job_id, job_id, None]
    assert main(["fork", "--id", job_id, "--arg", "NOPE=1", *cli_env]) == 1
    assert "NOPE" in capsys.readouterr().err

    assert main(["gc", *cli_env]) == 0
    assert "cleared 0 job(s)" in capsys.readouterr().err  # nothing has expired yet

    assert main(["get", "--id", "j20000101-000000000-nothere0", *cli_env]) == 1
    err = capsys.readouterr().err
    assert err.startswith("dsjobs: ") and "not found" in err and len(err.strip().splitlines()) == 1


def test_cancel_command(cli_env: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write_job(tmp_path / "job", "cmd: echo started; sleep 300\n")
    assert main(["execute", "-c", str(cfg), "--async", *cli_env]) == 0
    job_id = capsys.readouterr().out.strip()
    assert main(["cancel", "--id", job_id, *cli_env]) == 0
    assert f"job {job_id} is CANCELLED" in capsys.readouterr().err
    assert main(["get", "--id", job_id, "--format", "json", *cli_env]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "CANCELLED"


def test_bad_config_and_bad_store_are_one_line(
    cli_env: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_job(tmp_path / "job", "cmd: echo ${UNDECLARED}\n")
    assert main(["execute", "-c", str(cfg), *cli_env]) == 1
    err = capsys.readouterr().err
    assert "UNDECLARED" in err and "Traceback" not in err
    good = write_job(tmp_path / "good", "cmd: echo hi\n")
    assert main(["execute", "-c", str(good), "--store", "ftp://h/x"]) == 1
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [err.strip()] and "unknown store URL scheme" in err
    assert main(["execute", "-c", str(tmp_path / "missing.yaml"), *cli_env]) == 1
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize("command", ["get", "logs", "cancel"])
def test_a_job_id_with_a_trailing_newline_is_refused_in_one_line(
    cli_env: list[str], local_settings: Settings, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    jobs = JobStore(open_store(local_settings), local_settings.project)
    record = JobRecord(id=jobs.new_job_id(), project=local_settings.project, status=JobStatus.SUCCESS)
    jobs.save(record)
    assert main(["get", "--id", record.id, *cli_env]) == 0
    capsys.readouterr()
    assert main([command, "--id", record.id + "\n", *cli_env]) == 1
    err = capsys.readouterr().err
    assert err == f"dsjobs: invalid job id {record.id + chr(10)!r}: job ids are lowercase letters, digits and '-'\n"


def test_a_tcp_engine_without_tls_is_a_usage_error(
    cli_env: list[str],
    local_settings: Settings,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cfg = write_job(tmp_path / "job", "cmd: echo hi\n")
    monkeypatch.delenv("DSJOBS_DOCKER_ALLOW_INSECURE", raising=False)
    monkeypatch.delenv("DOCKER_TLS_VERIFY", raising=False)
    monkeypatch.setenv("DSJOBS_DOCKER_URL", "tcp://127.0.0.1:2375")
    for argv in (["execute", "-c", str(cfg)], ["ls"]):
        assert main([*argv, *cli_env]) == 2
        err = capsys.readouterr().err
        assert err.startswith("dsjobs: refusing the Docker engine at tcp://127.0.0.1:2375 without TLS: ")
        assert err.count("\n") == 1 and "Traceback" not in err and "DSJOBS_DOCKER_ALLOW_INSECURE=1" in err
    assert main(["ls", "--docker-url", "unix:///var/run/docker.sock", *cli_env]) == 0
    assert JobStore(open_store(local_settings), local_settings.project).list_ids() == []  # nothing was submitted


GRACEFUL = """
cmd: |
  trap 'echo bye > state.txt; exit 0' TERM
  echo ready
  while true; do sleep 0.2; done
outputs:
  - state.txt
graceful-shutdown:
  signal: SIGTERM
  timeout: 20s
"""


def test_ctrl_c_cancels_gracefully_and_exits_130(cli_env: list[str], local_settings: Settings, tmp_path: Path) -> None:
    cfg = write_job(tmp_path / "job", GRACEFUL)
    code, err = interrupt_when_ready(["execute", "-c", str(cfg), *cli_env])
    assert code == 130, err
    assert "cancelling job" in err
    assert (tmp_path / "job" / "state.txt").read_text() == "bye\n"
    (record,) = JobService(local_settings).list_jobs()
    assert record.status == JobStatus.CANCELLED


def test_pull_policy_never_refuses_a_missing_image_and_bad_env_is_usage(
    cli_env: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = write_job(
        tmp_path / "never", JOB.replace("name: cli-job", "name: cli-job\nenv:\n  docker: dsjobs-issue8/absent:1")
    )
    assert main(["execute", "-c", str(cfg), "--pull", "never", *cli_env]) == 1
    _, err = capsys.readouterr()
    assert "image dsjobs-issue8/absent:1 is not on the Docker engine and the image pull policy is 'never'" in err
    ok = write_job(tmp_path / "ok", JOB)
    assert main(["execute", "-c", str(ok), "--pull", "never", *cli_env]) == 0  # the test image is local
    capsys.readouterr()
    monkeypatch.setenv("DSJOBS_IMAGE_PULL_POLICY", "sometimes")
    assert main(["execute", "-c", str(ok), *cli_env]) == 2
    _, err = capsys.readouterr()
    assert "image pull policy must be one of always, if-missing, never, got 'sometimes'" in err


SLEEPER = """
name: sleeper
cmd: |
  echo started
  sleep 120
"""


def test_a_lost_engine_leaves_the_job_unknown_until_it_is_back(
    cli_env: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    docker_client: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The path to the engine breaks while `execute` follows a job, and the engine stops the container meanwhile
    (as a restarting engine does): one line, no traceback; `get` settles it once the engine answers again, and
    says the engine stopped it rather than the program failing."""
    from tests.faults import cuttable_proxy, docker_url

    cfg = write_job(tmp_path / "job", SLEEPER)
    with cuttable_proxy(docker_url()) as proxy:
        monkeypatch.setenv("DSJOBS_DOCKER_URL", proxy.url)
        monkeypatch.setenv("DSJOBS_DOCKER_ALLOW_INSECURE", "1")  # a plain proxy on loopback, allowed explicitly
        result: list[int] = []
        runner = threading.Thread(target=lambda: result.append(main(["execute", "-c", str(cfg), *cli_env])))
        runner.start()
        project = cli_env[3]
        running = lambda: docker_client.containers.list(filters={"label": f"dsjobs.project={project}"})  # noqa: E731
        wait_for(lambda: bool(running()) and b"started" in running()[0].logs(), what="the job to run")
        container = running()[0]
        job_id = container.labels["dsjobs.job_id"]
        proxy.cut()
        runner.join(timeout=120)
        assert result == [1]
        err_lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("dsjobs:")]
        assert len(err_lines) == 1 and err_lines[0].startswith(f"dsjobs: lost the Docker engine at {proxy.url}: ")
        assert err_lines[0].endswith(
            f"; the state of job {job_id} is unknown until the engine is back: then `dsjobs attach --id {job_id}`"
            f" follows it again (or `dsjobs get --id {job_id}` settles it)"
        )
        assert "unexpected error" not in err_lines[0] and "Traceback" not in err_lines[0]

        container.stop(timeout=2)  # what the engine does to its containers when it stops
        assert main(["get", "--id", job_id, *cli_env]) == 1  # the engine is still unreachable
        err = capsys.readouterr().err
        assert f"the Docker engine at {proxy.url}" in err and "is unknown until the engine is back: then `dsjobs" in err
        proxy.restore()
        assert main(["get", "--id", job_id, "--format", "json", *cli_env]) == 0
        record = json.loads(capsys.readouterr().out)
    assert (record["status"], record["return_code"]) == ("ERROR", 143)
    assert record["status_details"] == (
        "the container was stopped by SIGTERM (exit code 143), which dsjobs did not send: most likely the Docker"
        " engine stopping or restarting, or `docker stop`/`docker kill`"
    )


def test_fork_arg_is_data_not_shell_code(
    cli_env: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_job(tmp_path / "job", 'cmd: printf "[%s]\\n" ${WHO}\nargs: {WHO: "b c"}\n')
    assert main(["execute", "-c", str(cfg), "--async", *cli_env]) == 0
    job_id = capsys.readouterr().out.strip()
    assert main(["attach", "--id", job_id, *cli_env]) == 0
    assert capsys.readouterr().out.splitlines() == ["[b]", "[c]"]  # unquoted: still several words

    assert main(["fork", "--id", job_id, "--arg", "WHO=a; echo INJECTED $(echo SUB) `echo BQ` | cat", *cli_env]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == ["[a;]", "[echo]", "[INJECTED]", "[$(echo]", "[SUB)]", "[`echo]", "[BQ`]", "[|]", "[cat]"]


def test_execute_honours_the_input_limit_settings(
    cli_env: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = write_job(tmp_path / "job", "cmd: wc -c < ${D}\ninputs:\n  - data.bin: D\n", {"data.bin": "x" * 3000})
    monkeypatch.setenv("DSJOBS_MAX_INPUT_FILE_SIZE", "2KB")
    assert main(["execute", "-c", str(cfg), *cli_env]) == 1
    err = capsys.readouterr().err
    assert f"input file {tmp_path / 'job' / 'data.bin'} is 2.9 KiB, over the limit of 2.0 KiB per file" in err
    assert "Traceback" not in err
    monkeypatch.setenv("DSJOBS_MAX_INPUT_FILE_SIZE", "3KB")
    assert main(["execute", "-c", str(cfg), *cli_env]) == 0
    assert "3000" in capsys.readouterr().out.split()
    monkeypatch.setenv("DSJOBS_MAX_JOB_INPUT_SIZE", "2K")
    assert main(["execute", "-c", str(cfg), *cli_env]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dsjobs: invalid environment: DSJOBS_MAX_JOB_INPUT_SIZE: `2K` is not a size")
    assert err.count("\n") == 1
