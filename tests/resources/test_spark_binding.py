"""A Spark connector's token goes only to the endpoint it was registered for. The entry lives in the store, where
any writer can change it: pointing it at another host (or dropping or forging its binding) makes the plan fail in one
line, and the token never reaches a job's ``SPARK_REMOTE``. Connectors from Airflow connections are not store
entries and need no binding."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dsjobs.config.loader import config_from_mapping
from airflow_provider_dsjobs.jobs.plan import PlanError, plan_job
from airflow_provider_dsjobs.resources.secrets import FileSecretStore
from airflow_provider_dsjobs.resources.spark import SparkConnectorError, SparkRegistry
from airflow_provider_dsjobs.settings import Settings
from airflow_provider_dsjobs.storage.local import LocalStore
from tests.resources.tamper import rewrite_entry

TOKEN = "spark-token-9191"
CONNECTOR = "b1gsparkconn00000001"


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    FileSecretStore(tmp_path, "p1").set("SPARK-TOKEN", TOKEN)
    return Settings(home=tmp_path, project="p1", store_url=(tmp_path / "store").as_uri(), default_image="img:1")


@pytest.fixture()
def registry(tmp_path: Path) -> SparkRegistry:
    connectors = SparkRegistry(LocalStore(tmp_path / "store"), "p1")
    connectors.add(CONNECTOR, "sc://spark.example:15002", token_secret_id="SPARK-TOKEN", token=TOKEN)
    return connectors


def _plan(tmp_path: Path, settings: Settings, registry: SparkRegistry) -> Any:
    config = config_from_mapping({"cmd": "true", "spark": {"connector": CONNECTOR}}, base_dir=tmp_path)
    return plan_job(config, settings, job_id="j1", spark_lookup=registry.get)


def test_the_registered_endpoint_gets_its_token(tmp_path: Path, settings: Settings, registry: SparkRegistry) -> None:
    plan = _plan(tmp_path, settings, registry)
    assert plan.env["SPARK_REMOTE"] == f"sc://spark.example:15002/;token={TOKEN}"
    assert TOKEN not in registry.store.get_bytes(registry._key(CONNECTOR)).decode()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"remote": "sc://evil.example:15002"}, "token binding does not match its endpoint evil.example:15002"),
        ({"remote": "sc://spark.example:15003"}, "token binding does not match"),
        ({"remote": "sc://evil.example:15002/;x=1"}, "token binding does not match"),
        ({"token_binding": ...}, "has no binding of its token"),
        ({"token_binding": None}, "has no binding of its token"),
        ({"token_binding": "pbkdf2-sha256$1000$00$00"}, "token binding does not match"),
        ({"token_binding": "garbage"}, "token binding does not match"),
        ({"remote": "http://evil.example"}, "is not sc://host:port"),
    ],
)
def test_a_tampered_entry_never_gets_the_token(
    tmp_path: Path, settings: Settings, registry: SparkRegistry, fields: dict[str, Any], message: str
) -> None:
    rewrite_entry(registry, CONNECTOR, fields)
    with pytest.raises(PlanError, match=message) as info:
        _plan(tmp_path, settings, registry)
    assert TOKEN not in str(info.value) and "\n" not in str(info.value)
    assert f"spark.connector {CONNECTOR!r}: refusing to give it its token secret" in str(info.value)


@pytest.mark.parametrize(
    "fields",
    [{"token_binding": 7}, {"remote": ["sc://evil.example:15002"]}, {"session_params": {"a": 1}}, {"id": None}],
)
def test_an_entry_with_a_field_of_another_type_is_not_read(
    tmp_path: Path, settings: Settings, registry: SparkRegistry, fields: dict[str, Any]
) -> None:
    rewrite_entry(registry, CONNECTOR, fields)
    with pytest.raises(PlanError, match="is not a spark-connector entry written by dsjobs") as info:
        _plan(tmp_path, settings, registry)
    assert TOKEN not in str(info.value) and "\n" not in str(info.value)


def test_a_rotated_token_asks_to_register_again(tmp_path: Path, settings: Settings, registry: SparkRegistry) -> None:
    FileSecretStore(tmp_path, "p1").set("SPARK-TOKEN", "rotated-token-2")
    with pytest.raises(PlanError, match=r"token rotated\): register it again with `dsjobs spark-connector add"):
        _plan(tmp_path, settings, registry)


def test_add_needs_the_token_to_bind_it(tmp_path: Path) -> None:
    connectors = SparkRegistry(LocalStore(tmp_path / "store"), "p1")
    with pytest.raises(SparkConnectorError, match=r"secret 'SPARK-TOKEN' is not set here: .*DSJOBS_SECRET_SPARK_TOKEN"):
        connectors.add(CONNECTOR, "sc://spark.example:15002", token_secret_id="SPARK-TOKEN")
    assert connectors.all() == []


def test_an_endpoint_without_a_token_needs_no_binding(tmp_path: Path, settings: Settings) -> None:
    connectors = SparkRegistry(LocalStore(tmp_path / "store"), "p1")
    connectors.add(CONNECTOR, "sc://open.example:15002")
    assert _plan(tmp_path, settings, connectors).env["SPARK_REMOTE"] == "sc://open.example:15002"
