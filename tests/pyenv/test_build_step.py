"""Environments are the project's own and read-only in jobs (planning only: no engine)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from airflow_provider_dsjobs.config import config_from_mapping
from airflow_provider_dsjobs.config.model import PythonEnv
from airflow_provider_dsjobs.documents.plan_doc import PythonSetup
from airflow_provider_dsjobs.jobs.plan import Reuse, plan_job
from airflow_provider_dsjobs.pyenv.build_step import env_volume_name
from airflow_provider_dsjobs.pyenv.plan import plan_python_env
from airflow_provider_dsjobs.settings import Settings
from tests.pyenv.helpers import make_config, unique_plan

DOCKER_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")
HOSTILE_PROJECTS = ["p1", "a b", "a-b", "a/b", "../../etc", "é", "", "-x", "x" * 300, "p1\0evil", "$(touch /tmp/x)"]


def test_volume_names_are_valid_short_and_distinct_for_hostile_project_names() -> None:
    env_hash = "ab" * 32
    names = [env_volume_name(p, env_hash) for p in HOSTILE_PROJECTS]
    assert all(DOCKER_NAME.fullmatch(n) and len(n) <= 70 for n in names), names
    assert len(set(names)) == len(names)
    assert env_volume_name("p1", env_hash) == names[0]  # stable: the next job of the project finds it
    assert env_volume_name("p1", "cd" * 32) != names[0]


def test_same_requirements_in_two_projects_are_two_volumes(tmp_path: Path) -> None:
    unique_plan(tmp_path)  # writes main.py and a requirements.txt of its own
    python = PythonEnv(
        type="manual", version="3.11", version_given=True, requirements_file="requirements.txt", local_paths=()
    )
    cfg = make_config(tmp_path, "python main.py", python)
    a = plan_python_env(cfg, base_dir=tmp_path, image_template="i:{version}", explicit_image="img", project="A")
    b = plan_python_env(cfg, base_dir=tmp_path, image_template="i:{version}", explicit_image="img", project="B")
    assert a.env_hash == b.env_hash and a.volume_name != b.volume_name
    assert a.volume_labels["dsjobs.project"] == "A" and b.volume_labels["dsjobs.project"] == "B"
    assert a.volume_labels["dsjobs.pyenv.hash"] == a.env_hash
    # the job only checks and activates; the builder runs in the build step
    assert "pyenv_build.py" not in a.setup_command and "pyenv_build.py" in a.build_command
    assert a.ready_path == f"{a.volume_mount}/{a.env_hash}/.complete" and a.ready_path in a.setup_command


def _python_job(tmp_path: Path) -> object:
    (tmp_path / "main.py").write_text("import json\n")
    (tmp_path / "requirements.txt").write_text("tinypkg==1.0.0\n")
    data = {
        "cmd": "python main.py",
        "env": {
            "python": {
                "type": "manual",
                "version": "3.11",
                "requirements-file": "requirements.txt",
                "local-paths": ["main.py"],
            }
        },
    }
    return config_from_mapping(data, base_dir=tmp_path)


def test_the_job_mounts_its_projects_env_read_only(tmp_path: Path) -> None:
    config = _python_job(tmp_path)
    settings = Settings(default_image="img:default", python_image_template="py:{version}")
    plan = plan_job(config, settings, job_id="j1", project="team-a")  # type: ignore[arg-type]
    assert plan.python is not None
    assert plan.volumes[plan.python.volume_name] == {"bind": "/opt/dsjobs/envs", "mode": "ro"}
    assert plan.python.volume_labels["dsjobs.project"] == "team-a" and plan.python.build_command
    other = plan_job(config, settings, job_id="j2", project="team-b")  # type: ignore[arg-type]
    assert other.python is not None and other.python.volume_name != plan.python.volume_name


def test_a_fork_of_a_job_planned_before_per_project_envs_gets_its_projects_volume(tmp_path: Path) -> None:
    """A stored plan of an earlier version names the shared volume and builds in the job: not any more."""
    config = _python_job(tmp_path)
    settings = Settings(default_image="img:default", python_image_template="py:{version}")
    fresh = plan_job(config, settings, job_id="j1", project="team-a")  # type: ignore[arg-type]
    assert fresh.python is not None
    doc = fresh.python.to_doc()
    for key in ("build_command", "ready_path", "build_log", "build_workdir", "build_with_inputs"):
        doc.pop(key)  # what an earlier version stored
    env_hash = json.loads(doc["spec_json"])["hash"]
    doc.update(volume_name=f"dsjobs-pyenv-{env_hash[:16]}", volume_labels={"dsjobs.pyenv": "1"})
    old = PythonSetup.from_doc(doc)
    fork = plan_job(config, settings, job_id="j2", project="team-a", reuse=Reuse({}, python=old))  # type: ignore[arg-type]
    assert fork.python is not None
    assert fork.python.volume_name == fresh.python.volume_name
    assert fork.volumes == {fresh.python.volume_name: {"bind": "/opt/dsjobs/envs", "mode": "ro"}}
    assert fork.python.build_command == fresh.python.build_command
    assert fork.python.setup_command == fresh.python.setup_command
    assert fork.python.ready_path == fresh.python.ready_path and fork.python.build_log == fresh.python.build_log


@pytest.mark.parametrize("project", ["a b", "../x", "$(id)"])
def test_hostile_project_names_reach_no_shell(tmp_path: Path, project: str) -> None:
    config = _python_job(tmp_path)
    settings = Settings(default_image="img:default", python_image_template="py:{version}")
    plan = plan_job(config, settings, job_id="j1", project=project)  # type: ignore[arg-type]
    assert plan.python is not None
    assert project not in plan.python.build_command and project not in plan.python.setup_command
    assert DOCKER_NAME.fullmatch(plan.python.volume_name)
