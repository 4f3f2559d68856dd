"""Planning a config: pure, no engine or store needed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dsjobs.config import config_from_mapping
from airflow_provider_dsjobs.jobs.plan import PlanError, plan_job, resolve_command
from airflow_provider_dsjobs.resources.project_disk import project_volume_name
from airflow_provider_dsjobs.runtime.labels import LABEL_JOB_ID, LABEL_PROJECT
from airflow_provider_dsjobs.settings import Settings


def _settings(**kw: Any) -> Settings:
    return Settings(default_image="img:default", secret_resolver=lambda sid: {"reg-pass": "s3cr3t"}.get(sid), **kw)


def _config(tmp_path: Path, data: dict[str, Any]) -> Any:
    return config_from_mapping(data, base_dir=tmp_path)


@pytest.fixture()
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "main.py").write_text("print(1)\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("a\n")
    (tmp_path / "model.bin").write_bytes(b"\0")
    return tmp_path


def test_paths_vars_args_and_env_are_resolved(workdir: Path) -> None:
    cfg = _config(
        workdir,
        {
            "cmd": "python main.py --data ${DATA} --model ${MODEL} --out ${OUT} --epochs ${EPOCHS} $HOME",
            "args": {"EPOCHS": "5 --verbose"},
            "inputs": ["main.py", {"data": "DATA"}, {"model.bin": {"var": "MODEL"}}],
            "outputs": ["result.txt", {"out dir/final model.bin": "OUT"}],
            "env": {"vars": [{"LITERAL": "x"}, "FROM_SUBMITTER"]},
        },
    )
    plan = plan_job(cfg, _settings(), job_id="j1", project="p1", environ={"FROM_SUBMITTER": "copied"})
    out_path = "/job/outputs/OUT/final model.bin"
    # Plain paths are written as they are; a path with a space and the arg's value come from the environment.
    assert plan.script == (
        "set -f\npython main.py --data /job/inputs/DATA/data --model /job/inputs/MODEL/model.bin "
        '--out "${DSJOBS_PATH_0}" --epochs ${DSJOBS_ARG_EPOCHS} $HOME'
    )
    assert plan.env["DSJOBS_PATH_0"] == out_path and plan.env["DSJOBS_ARG_EPOCHS"] == "5 --verbose"
    assert plan.command[:2] == ("/bin/sh", "-c") and plan.command[2].endswith(plan.script)
    assert [i.container_path for i in plan.inputs] == [
        "/job/work/main.py",
        "/job/inputs/DATA/data",
        "/job/inputs/MODEL/model.bin",
    ]
    assert plan.inputs[1].is_dir and not plan.inputs[0].is_dir
    assert [o.container_path for o in plan.outputs] == ["/job/work/result.txt", out_path]
    assert plan.outputs[1].local_path == workdir / "out dir" / "final model.bin"
    assert "/job/outputs/OUT" in plan.directories and "/job/work" in plan.directories
    assert plan.env["LITERAL"] == "x" and plan.env["FROM_SUBMITTER"] == "copied"
    assert plan.env["DSJOBS_JOB_ID"] == "j1" and plan.env["DSJOBS_PROJECT"] == "p1"
    assert plan.labels[LABEL_JOB_ID] == "j1" and plan.labels[LABEL_PROJECT] == "p1"
    assert plan.image == "img:default"
    assert plan.workdir == "/job/work"


def test_no_object_store_credentials_reach_the_env(workdir: Path) -> None:
    cfg = _config(workdir, {"cmd": "true"})
    settings = _settings(aws_access_key_id="AKIA-should-not-leak", aws_secret_access_key="secret-should-not-leak")
    plan = plan_job(cfg, settings, job_id="j1", environ={"AWS_SECRET_ACCESS_KEY": "nope"})
    values = " ".join(plan.env.values())
    assert "should-not-leak" not in values and "nope" not in values
    assert not any(k.startswith("AWS_") for k in plan.env)
    assert "should-not-leak" not in repr(plan)


def test_missing_env_var_names_it(workdir: Path) -> None:
    cfg = _config(workdir, {"cmd": "true", "env": {"vars": ["NOT_THERE_AT_ALL"]}})
    with pytest.raises(PlanError, match="environment var `NOT_THERE_AT_ALL` is missing"):
        plan_job(cfg, _settings(), job_id="j1", environ={})


def _docker(secret_id: str) -> dict[str, Any]:
    return {"image": "reg.example/img:1", "username": "u", "password": {"secret-id": secret_id}}


def test_docker_image_with_secret_and_missing_secret(workdir: Path) -> None:
    cfg = _config(
        workdir,
        {
            "cmd": "true",
            "env": {"docker": {"image": "reg.example/img:1", "username": "u", "password": {"secret-id": "reg-pass"}}},
        },
    )
    plan = plan_job(cfg, _settings(), job_id="j1")
    assert (plan.image, plan.registry_username, plan.registry_password) == ("reg.example/img:1", "u", "s3cr3t")
    assert "s3cr3t" not in repr(plan)
    cfg2 = _config(
        workdir,
        {
            "cmd": "true",
            "env": {"docker": {"image": "reg.example/img:1", "username": "u", "password": {"secret-id": "nope-id"}}},
        },
    )
    with pytest.raises(PlanError, match="secret 'nope-id' not found"):
        plan_job(cfg2, _settings(), job_id="j1")


def test_datasets_output_datasets_project_disk_and_s3_mounts(workdir: Path) -> None:
    cfg = _config(
        workdir,
        {
            "cmd": "ls ${DS} ${abcdefghij0123456789} ${MOUNT} ${RESULT} ${DS_PROJECT_HOME}",
            "datasets": [{"abcdefghij0123456789": "DS"}],
            "s3-mounts": [{"mount01": "MOUNT"}],
            "output-datasets": [{"name": "my-set", "var": "RESULT", "size": "1GB", "description": "d"}],
            "flags": ["attach-project-disk"],
        },
    )
    plan = plan_job(cfg, _settings(), job_id="j1", project="proj", environ={"DSJOBS_S3_MOUNT_MOUNT01": "s3://b/pre"})
    assert plan.script == (
        "ls /job/datasets/abcdefghij0123456789 /job/datasets/abcdefghij0123456789 /job/s3/mount01 "
        "/job/output-datasets/my-set /job/project"
    )
    assert plan.s3_mounts[0].url == "s3://b/pre"
    assert plan.volumes == {project_volume_name("proj"): {"bind": "/job/project", "mode": "ro"}}
    assert plan.env["DS_PROJECT_HOME"] == "/job/project"
    assert "/job/output-datasets/my-set" in plan.directories
    with pytest.raises(PlanError, match="DSJOBS_S3_MOUNT_MOUNT01"):
        plan_job(cfg, _settings(), job_id="j1", environ={})


def test_graceful_shutdown_and_instance_types(workdir: Path) -> None:
    cfg = _config(
        workdir,
        {
            "cmd": "true",
            "graceful-shutdown": {"signal": "SIGUSR1", "timeout": "1m30s"},
            "cloud-instance-types": ["g1.1", "c1.4"],
        },
    )
    plan = plan_job(cfg, _settings(), job_id="j1")
    assert (plan.graceful_signal, plan.graceful_timeout) == ("SIGUSR1", 90.0)
    assert [t.name for t in plan.instance_types] == ["g1.1", "c1.4"]
    plain = plan_job(_config(workdir, {"cmd": "true"}), _settings(), job_id="j1")
    assert plain.graceful_signal is None and plain.graceful_timeout is None


def test_resolve_command_unknown_variable() -> None:
    with pytest.raises(PlanError, match="variable not presented in config: NOPE"):
        resolve_command("echo ${NOPE}", {})
    with pytest.raises(PlanError, match="attach-project-disk"):
        resolve_command("ls ${DS_PROJECT_HOME}", {})
    script = resolve_command("echo ${A}${A} $B ${N}", {"A": "/x y"}, {"N": "1"})
    assert script.text == 'set -f\necho "${DSJOBS_PATH_0}""${DSJOBS_PATH_0}" $B ${DSJOBS_ARG_N}'
    assert script.env == {"DSJOBS_PATH_0": "/x y", "DSJOBS_ARG_N": "1"}


def test_input_that_vanished_after_validation(workdir: Path) -> None:
    cfg = _config(workdir, {"cmd": "true", "inputs": ["model.bin"]})
    (workdir / "model.bin").unlink()
    with pytest.raises(PlanError, match=r"inputs\[0\]: no such path: model.bin"):
        plan_job(cfg, _settings(), job_id="j1")
