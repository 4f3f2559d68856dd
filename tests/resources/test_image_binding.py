"""Registry passwords go only to the registry host they are for. A registered image's entry lives in the store, where
any writer can change it: pointing it at another registry (with or without rewriting its recorded host, or dropping
its binding) makes the plan fail in one line before any login, instead of sending the password there. The registry
connection's login (``registry_conn_id``) is likewise sent only to that connection's host."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dsjobs.config.loader import config_from_mapping
from airflow_provider_dsjobs.jobs.plan import PlanError, plan_job
from airflow_provider_dsjobs.lab.config import LabJobConfig
from airflow_provider_dsjobs.lab.plan import plan_lab_job
from airflow_provider_dsjobs.resources.images import ImageRegistry, ImageRegistryError
from airflow_provider_dsjobs.resources.secrets import FileSecretStore
from airflow_provider_dsjobs.settings import Settings
from airflow_provider_dsjobs.storage.local import LocalStore
from tests.resources.tamper import rewrite_entry

PASSWORD = "registry-pass-5150"
IMAGE_ID = "b1gtrainerimage00001"


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    FileSecretStore(tmp_path, "p1").set("REG-PASS", PASSWORD)
    return Settings(home=tmp_path, project="p1", store_url=(tmp_path / "store").as_uri())


@pytest.fixture()
def registry(tmp_path: Path, settings: Settings) -> ImageRegistry:
    images = ImageRegistry(LocalStore(tmp_path / "store"), "p1")
    images.add(IMAGE_ID, "cr.example.com/ml/train:1", username="bot", password_secret_id="REG-PASS", password=PASSWORD)
    return images


def _plan(tmp_path: Path, settings: Settings, registry: ImageRegistry) -> Any:
    config = config_from_mapping({"cmd": "true", "env": {"docker": IMAGE_ID}}, base_dir=tmp_path)
    return plan_job(config, settings, job_id="j1", image_lookup=registry.resolve)


def test_registered_image_logs_in_to_its_own_registry(tmp_path: Path, settings: Settings, registry: Any) -> None:
    plan = _plan(tmp_path, settings, registry)
    assert (plan.image, plan.registry_username, plan.registry_password) == (
        "cr.example.com/ml/train:1",
        "bot",
        PASSWORD,
    )
    entry = registry.get(IMAGE_ID)
    assert entry.registry == "cr.example.com" and PASSWORD not in json.dumps(dataclasses.asdict(entry))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"image": "evil.example/x:1"}, "pulls from evil.example, but its password was registered for cr.example.com"),
        ({"image": "evil.example/x:1", "registry": "evil.example"}, "registry binding does not match"),
        ({"image": "library/ubuntu", "registry": "docker.io"}, "registry binding does not match"),
        ({"registry_binding": ...}, "has no registry binding"),
        ({"registry_binding": "pbkdf2-sha256$1$00$00"}, "registry binding does not match"),
        ({"registry_binding": "garbage"}, "registry binding does not match"),
    ],
)
def test_tampered_entry_never_gets_the_password(
    tmp_path: Path, settings: Settings, registry: ImageRegistry, fields: dict[str, Any], message: str
) -> None:
    rewrite_entry(registry, IMAGE_ID, fields)
    with pytest.raises(PlanError, match=message) as info:
        _plan(tmp_path, settings, registry)
    assert PASSWORD not in str(info.value) and "\n" not in str(info.value)
    assert f"project image {IMAGE_ID!r}" in str(info.value)


def test_rotated_password_asks_to_register_again(tmp_path: Path, settings: Settings, registry: ImageRegistry) -> None:
    FileSecretStore(tmp_path, "p1").set("REG-PASS", "rotated-6160")
    with pytest.raises(PlanError, match=r"password rotated\): register it again with `dsjobs docker-image add"):
        _plan(tmp_path, settings, registry)


def test_add_needs_the_password_to_bind_it(tmp_path: Path) -> None:
    images = ImageRegistry(LocalStore(tmp_path / "store"), "p1")
    with pytest.raises(ImageRegistryError, match=r"secret 'REG-PASS' is not set here: .*DSJOBS_SECRET_REG_PASS"):
        images.add(IMAGE_ID, "cr.example.com/ml:1", username="bot", password_secret_id="REG-PASS")
    assert images.all() == []


CONNECTION = {"registry_username": "robot", "registry_password": "conn-pass-8080", "registry_host": "cr.example.com"}


@pytest.mark.parametrize(
    ("image", "sent"),
    [
        ("cr.example.com/team/job:1", True),
        ("evil.example/job:1", False),
        ("ubuntu:22.04", False),  # Docker Hub
    ],
)
def test_registry_connection_login_goes_only_to_its_host(tmp_path: Path, image: str, sent: bool) -> None:
    settings = Settings(**CONNECTION)  # type: ignore[arg-type]
    config = config_from_mapping({"cmd": "true", "env": {"docker": image}}, base_dir=tmp_path)
    plan = plan_job(config, settings, job_id="j1")
    lab = plan_lab_job(LabJobConfig(image=image), None, settings, job_id="j2", name="n", project="p")
    for p in (plan, lab):
        assert (p.registry_username, p.registry_password) == (("robot", "conn-pass-8080") if sent else (None, None))


def test_registry_connection_without_a_host_sends_its_login_nowhere(tmp_path: Path) -> None:
    settings = Settings(**{**CONNECTION, "registry_host": None})  # type: ignore[arg-type]
    lab = plan_lab_job(LabJobConfig(image="cr.example.com/job:1"), None, settings, job_id="j", name="n", project="p")
    assert lab.registry_password is None
