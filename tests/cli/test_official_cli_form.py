"""Scripts written for the official ``datasphere`` CLI run by changing only the program name: the
``project job`` prefix, ``-p/--project-id``, ``-o/--output``, ``list``, the global options and fork's docker and
working-storage options — through ``main([...])`` on a real Docker engine and a local store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_dsjobs.cli.main import main
from airflow_provider_dsjobs.jobs.service import JobService
from airflow_provider_dsjobs.settings import Settings
from tests.jobs.service_helpers import write_job

pytestmark = [pytest.mark.docker]

JOB = """
name: official-form
cmd: echo "n=${N}" > ${RESULT}
args:
  N: "1"
outputs:
  - result.txt: RESULT
"""


@pytest.fixture()
def official(local_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The store from the environment, the project as the official CLI names it: ``-p <project-id>``."""
    monkeypatch.setenv("DSJOBS_DEFAULT_IMAGE", local_settings.default_image)
    monkeypatch.setenv("DSJOBS_HOME", str(local_settings.home))
    monkeypatch.setenv("DSJOBS_STORE", str(local_settings.store_url))
    return ["-p", local_settings.project]


def test_a_datasphere_script_runs_with_only_the_program_name_changed(
    official: list[str], local_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_job(tmp_path / "job", JOB)
    data = tmp_path / "job.json"
    argv = ["-t", "y0_token", "-l", "INFO", "project", "job", "execute", *official, "-c", str(cfg)]
    assert main([*argv, "--async", "-o", str(data)]) == 0
    job_id = json.loads(data.read_text())["job_id"]
    assert capsys.readouterr().out.strip() == job_id
    assert main(["project", "job", "attach", "--id", job_id, "--project-id", local_settings.project]) == 0
    assert (tmp_path / "job" / "result.txt").read_text() == "n=1\n"

    listed = tmp_path / "list.json"
    assert main(["project", "job", "list", *official, "--format", "json", "-o", str(listed)]) == 0
    assert capsys.readouterr().out == ""  # -o: the listing went to the file, not the terminal
    assert [j["id"] for j in json.loads(listed.read_text())] == [job_id]
    assert JobService(local_settings).read(job_id).project == local_settings.project

    shown = tmp_path / "get.txt"
    assert main(["project", "job", "get", "--id", job_id, *official, "-o", str(shown)]) == 0
    assert job_id in shown.read_text() and "SUCCESS" in shown.read_text()
    out_dir = tmp_path / "files"
    argv = ["project", "job", "download-files", "--id", job_id, *official, "--with-diagnostics"]
    assert main([*argv, "--output-dir", str(out_dir)]) == 0
    assert {p.name for p in out_dir.iterdir()} >= {"result.txt", f"{job_id}.log.txt"}


def test_fork_takes_the_official_docker_and_working_storage_options(
    official: list[str], local_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_job(tmp_path / "job", JOB)
    assert main(["project", "job", "execute", *official, "-c", str(cfg)]) == 0
    job_id = JobService(local_settings).list_jobs()[0].id
    capsys.readouterr()

    fork = ["project", "job", "fork", "--id", job_id, *official]
    # a type alone is refused as in a config; the size is checked as DataSphere checks it
    assert main([*fork, "--working-storage-type", "SSD", "--async"]) == 1
    assert "overrides.working_storage: `size` is required" in capsys.readouterr().err
    assert main([*fork, "--working-storage-size", "1Gb", "--async"]) == 1
    assert "overrides.working_storage" in capsys.readouterr().err
    # credentials belong to an image, and an ID and a URL are one choice
    assert main([*fork, "--docker-image-username", "u", "--async"]) == 1
    assert "registry credentials need the image they are for" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        main([*fork, "--docker-image-id", "a", "--docker-image-url", "b"])
    assert usage.value.code == 2

    data = tmp_path / "fork.json"
    image = local_settings.default_image
    argv = [*fork, "--docker-image-url", image, "--docker-image-username", "robot"]
    assert main([*argv, "--docker-image-password-secret-id", "REGISTRY_PW", "--async", "-o", str(data)]) == 1
    err = capsys.readouterr().err
    assert "env.docker.password: secret 'REGISTRY_PW' not found" in err  # the credentials reached the config
    assert not data.exists()  # no job, no id file


def test_version_and_a_global_debug_level(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"]) == 0
    assert capsys.readouterr().out.strip()[0].isdigit()
    assert main(["-l", "DEBUG", "--profile", "default", "project", "job", "logs", "--id", "j-none", "-p", "x"]) == 1
    assert "job j-none not found in project x" in capsys.readouterr().err
