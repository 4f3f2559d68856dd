"""The issue's own scenario with the CLI: ``dsjobs execute --async`` on engine A, ``dsjobs get``/``attach`` from a
host whose engine is B (same store) change nothing, ``dsjobs attach`` on A then collects the job's output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_dsjobs.cli.main import main
from airflow_provider_dsjobs.jobs.service import JobService
from airflow_provider_dsjobs.runtime.engine import DEFAULT_LOCAL_URL
from airflow_provider_dsjobs.settings import Settings
from tests.jobs.service_helpers import wait_for, write_job

pytestmark = [pytest.mark.docker]

JOB = "cmd: echo hello; echo result > out.txt\noutputs:\n  - out.txt\n"


def test_get_and_attach_from_another_engine_change_nothing(
    local_settings: Settings,
    second_engine: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DSJOBS_DEFAULT_IMAGE", local_settings.default_image)
    monkeypatch.setenv("DSJOBS_HOME", str(local_settings.home))
    cli = ["--store", str(local_settings.store_url), "--project", local_settings.project]
    engine_a = local_settings.docker_url or DEFAULT_LOCAL_URL
    monkeypatch.setenv("DSJOBS_DOCKER_URL", engine_a)
    monkeypatch.setenv("DSJOBS_ENGINE_NAME", "host-a")
    assert main(["execute", "-c", str(write_job(tmp_path / "job", JOB)), "--async", *cli]) == 0
    job_id = capsys.readouterr().out.strip()
    owner = JobService(local_settings)
    record = owner.read(job_id)
    wait_for(lambda: owner.runtime.state(record.container_id or "").finished, what="the job's container to exit")

    monkeypatch.setenv("DSJOBS_DOCKER_URL", second_engine)  # another host, same store
    monkeypatch.setenv("DSJOBS_ENGINE_NAME", "host-b")
    assert main(["get", "--id", job_id, *cli]) == 0
    out = capsys.readouterr().out
    assert f"job {job_id} is running on engine host-a (not reachable from here)" in out
    assert main(["attach", "--id", job_id, *cli]) == 1
    assert "running on engine host-a (not reachable from here)" in capsys.readouterr().err
    assert main(["get", "--id", job_id, "--format", "json", *cli]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "EXECUTING"  # not ERROR, not "disappeared"

    monkeypatch.setenv("DSJOBS_DOCKER_URL", engine_a)
    monkeypatch.setenv("DSJOBS_ENGINE_NAME", "host-a")
    assert main(["attach", "--id", job_id, *cli]) == 0
    out, err = capsys.readouterr()
    assert "hello" in out and "finished: SUCCESS" in err
    assert main(["download-files", "--id", job_id, "--output-dir", str(tmp_path / "out"), *cli]) == 0
    assert (tmp_path / "out" / "out.txt").read_text() == "result\n"
