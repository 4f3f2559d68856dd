from __future__ import annotations

from pathlib import Path
from typing import Any

import docker.errors
import pytest

from airflow_provider_dsjobs.pyenv.cache import clear_env_volumes, ensure_env_volume, list_env_volumes
from tests.pyenv.helpers import unique_plan

pytestmark = pytest.mark.docker


def test_volume_is_labelled_listed_and_cleared(
    docker_client: Any, docker_engine: Any, tmp_path: Path, env_volumes: list[str]
) -> None:
    plan = unique_plan(tmp_path)
    env_volumes.append(plan.volume_name)
    assert ensure_env_volume(plan, docker_engine) == plan.volume_name
    assert ensure_env_volume(plan, docker_engine) == plan.volume_name  # idempotent
    labels = docker_client.volumes.get(plan.volume_name).attrs["Labels"]
    assert labels["dsjobs.pyenv.hash"] == plan.env_hash

    listed = {v.name: v for v in list_env_volumes(docker_engine)}
    assert listed[plan.volume_name].env_hash == plan.env_hash
    assert listed[plan.volume_name].version == "3.11"
    assert listed[plan.volume_name].image == "dsjobs-test/python:3.11"

    report = clear_env_volumes(docker_engine, env_hash=plan.env_hash[:20])
    assert report.removed == [plan.volume_name]
    with pytest.raises(docker.errors.NotFound):
        docker_client.volumes.get(plan.volume_name)


def test_size_is_reported_on_request(
    docker_client: Any, docker_engine: Any, test_image: str, tmp_path: Path, env_volumes: list[str]
) -> None:
    plan = unique_plan(tmp_path)
    env_volumes.append(plan.volume_name)
    ensure_env_volume(plan, docker_engine)
    docker_client.containers.run(
        test_image,
        ["sh", "-c", "head -c 300000 /dev/zero > /env/blob"],
        labels={"dsjobs.test": "pyenv"},
        volumes={plan.volume_name: {"bind": "/env"}},
        remove=True,
    )
    sized = {v.name: v for v in list_env_volumes(docker_engine, with_size=True)}
    size = sized[plan.volume_name].size_bytes
    assert size is not None
    assert size >= 300000
    assert {v.name: v for v in list_env_volumes(docker_engine)}[plan.volume_name].size_bytes is None


def test_volume_in_use_is_kept_and_reported(
    docker_client: Any, docker_engine: Any, test_image: str, tmp_path: Path, env_volumes: list[str]
) -> None:
    plan = unique_plan(tmp_path)
    env_volumes.append(plan.volume_name)
    ensure_env_volume(plan, docker_engine)
    container = docker_client.containers.create(
        test_image, "true", labels={"dsjobs.test": "pyenv"}, volumes={plan.volume_name: {"bind": "/x"}}
    )
    try:
        report = clear_env_volumes(docker_engine, env_hash=plan.env_hash)
        assert report.removed == []
        assert report.kept == [(plan.volume_name, "in use by a container")]
    finally:
        container.remove(force=True)


def test_clear_needs_a_hash_or_all() -> None:
    with pytest.raises(ValueError, match="hash"):
        clear_env_volumes(object())  # type: ignore[arg-type]
