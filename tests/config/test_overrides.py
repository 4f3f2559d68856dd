"""Fork-like overrides: only declared args/vars may change; the result passes the same checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_dsjobs.config import ConfigError, load_config
from airflow_provider_dsjobs.config.model import EnvVar, JobConfig, PathEntry
from airflow_provider_dsjobs.config.overrides import Overrides, apply_overrides
from airflow_provider_dsjobs.config.serialize import config_document, config_json

from .helpers import write_fixture

TEXT = """
name: train
cmd: python main.py --data ${DATA} --epochs ${EPOCHS} --out ${MODEL}
args:
  EPOCHS: 5
inputs:
  - data/train.csv: DATA
  - main.py
outputs:
  - model.bin: MODEL
env:
  vars:
    - MODE: fast
    - HOME
cloud-instance-types: [c1.4]
"""


@pytest.fixture
def config(job_dir: Path) -> JobConfig:
    path = job_dir / "config.yaml"
    path.write_text(TEXT)
    return load_config(path)


def test_overrides_apply(config: JobConfig, job_dir: Path) -> None:
    (job_dir / "data" / "other.csv").write_text("1\n")
    result = apply_overrides(
        config,
        Overrides(
            args={"EPOCHS": 10},
            input_vars={"DATA": "data/other.csv"},
            output_vars={"MODEL": "out/model2.bin"},
            env_vars={"MODE": "slow", "EXTRA": "1"},
            cloud_instance_types=["g1.1", "c1.8"],
            name="train-2",
            desc="forked",
        ),
    )
    assert result.args == (("EPOCHS", "10"),)
    assert result.inputs == (PathEntry("data/other.csv", "DATA"), PathEntry("main.py"))
    assert result.outputs == (PathEntry("out/model2.bin", "MODEL"),)
    assert result.env.vars == (EnvVar("MODE", "slow"), EnvVar("HOME", from_env=True), EnvVar("EXTRA", "1"))
    assert result.cloud_instance_types == ("g1.1", "c1.8")
    assert (result.name, result.desc) == ("train-2", "forked")
    assert result.cmd == config.cmd
    assert result.base_dir == config.base_dir
    # the original is untouched
    assert config.args == (("EPOCHS", "5"),)


def test_no_overrides_is_identity(config: JobConfig) -> None:
    assert apply_overrides(config) == config


@pytest.mark.parametrize(
    ("kwargs", "key_path", "message"),
    [
        ({"args": {"LR": 0.1}}, "overrides.args.LR", "no argument `LR` in the config's `args` (declared: EPOCHS)"),
        ({"input_vars": {"MODEL": "x"}}, "overrides.input_vars.MODEL", "no input variable `MODEL`"),
        ({"output_vars": {"DATA": "x"}}, "overrides.output_vars.DATA", "no output variable `DATA`"),
        ({"input_vars": {"DATA": "missing.csv"}}, "overrides.input_vars.DATA", "`missing.csv` does not exist"),
        ({"cloud_instance_types": ["zz.9"]}, "overrides.cloud_instance_types", "unknown instance type `zz.9`"),
        ({"env_vars": {"1BAD": "x"}}, "overrides.env_vars.1BAD", "is not a valid name"),
        ({"output_vars": {"MODEL": "/abs/model.bin"}}, "", ""),
    ],
)
def test_bad_overrides(config: JobConfig, kwargs: dict[str, object], key_path: str, message: str) -> None:
    if not key_path:  # an absolute output path with a var is allowed
        assert apply_overrides(config, Overrides(**kwargs)).outputs[0].path == "/abs/model.bin"  # type: ignore[arg-type]
        return
    with pytest.raises(ConfigError) as info:
        apply_overrides(config, Overrides(**kwargs))  # type: ignore[arg-type]
    problem = info.value.problems[0]
    assert problem.key_path.startswith(key_path), str(info.value)
    assert message in problem.message


@pytest.mark.parametrize(
    "fixture",
    ["seed000_full.yaml", "seed001_full_ru.yaml", "seed000_registry_docker.yaml", "seed002_manual.yaml"],
)
def test_round_trip_of_seeds(job_dir: Path, fixture: str) -> None:
    config = load_config(write_fixture(job_dir, fixture))
    again = apply_overrides(config)
    assert again == config
    assert isinstance(config_document(config)["cmd"], str)


def test_env_var_overrides_reach_the_job_through_the_environment_only(config: JobConfig) -> None:
    over = Overrides(env_vars={"MODE": "s3cr3t-mode", "TOKEN": 7})
    submitted = over.submitted_config(config)
    assert submitted.env.vars == (
        EnvVar("MODE", from_env=True),
        EnvVar("HOME", from_env=True),
        EnvVar("TOKEN", from_env=True),
    )
    assert over.environ == {"MODE": "s3cr3t-mode", "TOKEN": "7"}
    assert "s3cr3t-mode" not in str(config_json(submitted))
    assert Overrides().submitted_config(config) is config


def test_fork_vars_name_input_or_output_variables(config: JobConfig, job_dir: Path) -> None:
    (job_dir / "data" / "other.csv").write_text("1\n")
    result = apply_overrides(config, Overrides(vars={"DATA": "data/other.csv", "MODEL": "out/m.bin"}))
    assert result.inputs[0] == PathEntry("data/other.csv", "DATA")
    assert result.outputs == (PathEntry("out/m.bin", "MODEL"),)
