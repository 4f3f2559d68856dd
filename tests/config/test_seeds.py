"""Every config.yaml example of the seed documents validates, and reads the way its author meant it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from airflow_provider_dsjobs.config import load_config
from airflow_provider_dsjobs.config.model import EnvVar, PathEntry, ResourceEntry
from airflow_provider_dsjobs.config.serialize import config_json

from .helpers import FIXTURES, write_fixture

ALL_SEED_FIXTURES = sorted(p.name for p in FIXTURES.glob("seed*.yaml"))
LOCAL_PY = f"{sys.version_info.major}.{sys.version_info.minor}"


def test_there_are_seed_fixtures() -> None:
    assert len(ALL_SEED_FIXTURES) >= 10


@pytest.mark.parametrize("fixture", ALL_SEED_FIXTURES)
def test_seed_example_validates(job_dir: Path, fixture: str) -> None:
    config = load_config(write_fixture(job_dir, fixture))
    assert config.cmd
    assert config.base_dir == job_dir.absolute()
    assert config.raw_text is not None and "cmd" in config.raw_text


def test_full_english_example(job_dir: Path) -> None:
    config = load_config(write_fixture(job_dir, "seed000_full.yaml"))
    assert config.name == "simple-python-script"
    assert config.desc == "Program description"
    assert config.cmd.startswith("python3 src/main.py\n  --params ${PARAMS}")
    assert config.inputs == (
        PathEntry("misc/logging.yaml"),
        PathEntry(f"{job_dir}/share/params.json", "PARAMS"),
    )
    assert config.outputs == (PathEntry("data/model.bin", "MODEL"), PathEntry("other/metrics.png"))
    assert config.s3_mounts == (ResourceEntry("s3conn0123456789abcd"),)
    assert config.datasets == (ResourceEntry("dataset0123456789abc", "CIFAR"),)
    assert config.env.vars == (EnvVar("DEVICE_COUNT", "8"), EnvVar("PYTHONBUFFERED", from_env=True))
    assert config.env.docker is not None and config.env.docker.image == "dockerimg0123456789a"
    assert config.env.python is not None
    assert (config.env.python.type, config.env.python.version, config.env.python.version_given) == (
        "auto",
        LOCAL_PY,
        False,
    )
    assert config.attach_project_disk
    assert config.cloud_instance_types == ("g2.1", "g1.1")
    assert config.working_storage is not None and config.working_storage.size_bytes == 150 << 30
    assert config.working_storage.size_gb == 150
    assert config.graceful_shutdown is not None
    assert (config.graceful_shutdown.signal, config.graceful_shutdown.timeout_seconds) == ("SIGTERM", 15.0)
    (ds,) = config.output_datasets
    assert (ds.name, ds.var, ds.size_bytes, ds.description, ds.labels) == (
        "job-test-dataset-1",
        "OUT_DS",
        100 << 30,
        "Description",
        (("a", "b"), ("c", "d")),
    )
    assert config.spark is not None and config.spark.connector == "sparkconn0123456789a"


def test_russian_example_mapping_vars_and_singular_instance_type(job_dir: Path) -> None:
    config = load_config(write_fixture(job_dir, "seed001_full_ru.yaml"))
    # `PYTHONBUFFERED: Yes` stays the text the user wrote (YAML 1.1 would make it a boolean)
    assert config.env.vars == (EnvVar("PYTHONBUFFERED", "Yes"), EnvVar("DEVICE_COUNT", "8"))
    assert config.cloud_instance_types == ("g2.1",)
    assert config.name == "simple-python-script"  # trailing space in the seed is not part of the value
    assert "--params ${PARAMS}" in config.cmd


def test_registry_docker_and_manual_python(job_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="airflow_provider_dsjobs.config"):
        config = load_config(write_fixture(job_dir, "seed000_registry_docker.yaml"))
    docker = config.env.docker
    assert docker is not None and docker.image == "cr.yandex/crtabcdef12345678900/myenv:0.1"
    assert docker.username == "mylogin"
    assert docker.password is not None and docker.password.secret_id == "PASSWORD"
    py = config.env.python
    assert py is not None
    assert (py.type, py.version, py.version_given) == ("manual", "3.10", True)
    assert py.requirements_file == "requirements.txt"
    assert py.root_paths == ("other.py",)  # the seeds' singular `root-path` is an alias
    assert py.local_paths is None
    assert py.pip.index_url == "https://pypi.example.org/simple"
    assert py.pip.extra_index_urls == ("https://pypi.ngc.nvidia.com",)
    assert py.pip.trusted_hosts == ("nvidia.com",)
    assert py.pip.no_deps is True
    assert any("3.10.13 -> 3.10" in r.getMessage() for r in caplog.records)


def test_manual_with_local_paths_is_fully_manual(job_dir: Path) -> None:
    config = load_config(write_fixture(job_dir, "seed002_manual.yaml"))
    py = config.env.python
    assert py is not None
    assert py.local_paths == ("foo.py", "lib/")
    assert py.fully_manual


def test_auto_modified(job_dir: Path) -> None:
    config = load_config(write_fixture(job_dir, "seed002_auto_modified.yaml"))
    py = config.env.python
    assert py is not None and py.type == "auto" and py.root_paths == ("other.py",) and py.pip.no_deps


def test_plain_environment(job_dir: Path) -> None:
    config = load_config(write_fixture(job_dir, "seed002_plain.yaml"))
    assert config.inputs == (PathEntry("run.sh"),)
    assert config.env.python is None
    assert config.cloud_instance_types == ()  # none named: the engine's resources


def test_to_dict_is_the_long_form(job_dir: Path) -> None:
    data = config_json(load_config(write_fixture(job_dir, "seed001_full_ru.yaml")))
    assert data["cloud-instance-types"] == ["g2.1"]
    assert data["inputs"][0] == {"path": "misc/logging.yaml", "var": None}
    assert data["s3-mounts"] == [{"id": "s3conn0123456789abcd", "var": None}]
    assert data["env"]["vars"] == [{"name": "PYTHONBUFFERED", "value": "Yes"}, {"name": "DEVICE_COUNT", "value": "8"}]
    assert data["env"]["python"]["type"] == "auto" and data["env"]["python"]["version"] == LOCAL_PY
