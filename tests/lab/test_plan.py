"""Planning an ML Lab job (pure, no engine): the container an image job and a code job get."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from airflow_provider_dsjobs.jobs.errors import JobError
from airflow_provider_dsjobs.lab.code import parse_code, resolve_code
from airflow_provider_dsjobs.lab.config import LabError, LabJobConfig
from airflow_provider_dsjobs.lab.data import data_volume_name
from airflow_provider_dsjobs.lab.plan import plan_lab_job
from airflow_provider_dsjobs.settings import Settings

SETTINGS = Settings(project="p1", lab_endpoint="https://lab.example", lab_api_token="tok")


def test_image_job_keeps_the_image_command_and_workdir() -> None:
    config = LabJobConfig(image="team/job:1", name="train", params={"LAB_PROJECT": "mine", "A": "1"})
    plan = plan_lab_job(config, None, SETTINGS, job_id="j1", name="train", project="p1")
    assert plan.command == () and plan.entrypoint is None and plan.workdir == ""
    assert plan.inputs == () and plan.directories == ("/job/.dsjobs",)  # only where the result file may go
    assert plan.env["LAB_ENDPOINT"] == "https://lab.example" and plan.env["LAB_API_TOKEN"] == "tok"
    assert plan.env["LAB_PROJECT"] == "mine" and plan.env["A"] == "1"  # params win
    assert plan.volumes == {data_volume_name("p1", "train"): {"bind": "/data", "mode": "rw"}}
    assert plan.graceful_signal == "SIGTERM"


def test_unnamed_job_has_no_data_volume_and_no_token_without_settings() -> None:
    plan = plan_lab_job(LabJobConfig(image="x"), None, Settings(), job_id="j1", name="x-abc123", project="p1")
    assert plan.volumes == {} and "LAB_API_TOKEN" not in plan.env and plan.env["LAB_PROJECT"] == "p1"


def test_data_volume_names_are_valid_and_distinct() -> None:
    names = {data_volume_name("p", n) for n in ("a b", "a-b", "a/b", "é", "")}
    assert len(names) == 5 and all(n.startswith("dsjobs-lab-data-") for n in names)
    assert data_volume_name("p", "a") != data_volume_name("q", "a")


def test_code_job_replaces_the_entrypoint_and_stages_the_code(tmp_path: Path) -> None:
    (tmp_path / "__main__.py").write_text("print(1)\n")
    (tmp_path / "requirements.txt").write_text("# nothing\nrequests==2.0\n")
    code = resolve_code(parse_code(str(tmp_path)), tmp_path, None)
    config = LabJobConfig(image="x", params={"EXECUTE_CODE": str(tmp_path)})
    plan = plan_lab_job(config, code, SETTINGS, job_id="j1", name="n", project="p1")
    assert plan.entrypoint is not None and plan.entrypoint[:2] == ("/bin/sh", "-c")
    assert plan.command == () and plan.workdir == "/job/code" and plan.env["EXECUTE_CODE"] == "/job/code"
    assert [i.container_path for i in plan.inputs] == ["/job/code"]
    assert plan.python is not None and plan.python.volume_name.startswith("dsjobs-pyenv-")
    other = plan_lab_job(dataclasses.replace(config, image="y"), code, SETTINGS, job_id="j2", name="n", project="p1")
    assert other.python is not None and other.python.volume_name != plan.python.volume_name  # keyed by image


def test_lab_jobs_get_instance_types_in_priority_order() -> None:
    config = LabJobConfig(image="x", cloud_instance_types=["g2.1", "c1.8"])
    plan = plan_lab_job(config, None, SETTINGS, job_id="j1", name="x", project="p1")
    assert [t.name for t in plan.instance_types] == ["g2.1", "c1.8"]
    assert (
        plan_lab_job(LabJobConfig(image="x"), None, SETTINGS, job_id="j1", name="x", project="p1").instance_types == ()
    )
    with pytest.raises(JobError, match=r"unknown instance type `huge\.1` \(known: c1\.4"):
        plan_lab_job(
            LabJobConfig(image="x", cloud_instance_types="huge.1"), None, SETTINGS, job_id="j", name="x", project="p"
        )
    with pytest.raises(LabError, match="listed twice"):
        LabJobConfig(image="x", cloud_instance_types=["c1.4", "c1.4"])


def test_code_job_dependencies_are_the_projects_and_read_only_in_the_job(tmp_path: Path) -> None:
    (tmp_path / "__main__.py").write_text("print(1)\n")
    (tmp_path / "environment.yml").write_text("name: x\ndependencies: [python]\n")
    (tmp_path / "requirements.txt").write_text("./wheels/x-1.0-py3-none-any.whl\n")
    code = resolve_code(parse_code(str(tmp_path)), tmp_path, None)
    config = LabJobConfig(image="x", params={"EXECUTE_CODE": str(tmp_path)})
    plan = plan_lab_job(config, code, SETTINGS, job_id="j1", name="n", project="p1")
    python = plan.python
    assert python is not None and python.volume_labels["dsjobs.project"] == "p1"
    assert plan.volumes[python.volume_name] == {"bind": "/opt/dsjobs/envs", "mode": "ro"}
    # the build step creates the conda env and the venv, in the code directory (for ./wheels lines)
    assert "env create" in python.build_command and "pyenv_build.py" in python.build_command
    assert python.build_with_inputs and python.build_workdir == "/job/code"
    assert "env create" not in plan.script and "pyenv_build.py" not in plan.script  # the job only uses them
    other = plan_lab_job(config, code, SETTINGS, job_id="j2", name="n", project="p2")
    assert other.python is not None and other.python.volume_name != python.volume_name
    (tmp_path / "requirements.txt").unlink()
    conda_only = plan_lab_job(
        config, resolve_code(parse_code(str(tmp_path)), tmp_path, None), SETTINGS, job_id="j3", name="n", project="p1"
    )
    assert conda_only.python is not None and conda_only.python.ready_path.endswith("/.complete")
    assert conda_only.volumes[conda_only.python.volume_name]["mode"] == "ro"
