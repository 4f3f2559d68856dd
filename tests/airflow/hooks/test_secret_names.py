"""The Airflow layer's rule for secret env names is Airflow's secret masker's, [core] settings included."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from airflow_provider_dsjobs.hooks.secret_names import is_secret_env_name
from tests.airflow.helpers import reread_masker_config

pytestmark = pytest.mark.airflow


@pytest.fixture
def core_config(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    yield monkeypatch
    monkeypatch.undo()
    reread_masker_config()  # Airflow reads these once: read them again without the test's values


@pytest.mark.parametrize("name", ["HF_TOKEN", "DB_PASSWORD", "client-secret", "HTTP_PROXIES", "Api_Key"])
def test_airflow_sensitive_names_are_secret(name: str) -> None:
    assert is_secret_env_name(name)


@pytest.mark.parametrize("name", ["TOKENIZERS_PARALLELISM", "REGION", "MY_CUSTOM_FIELD"])
def test_ordinary_names_are_not(name: str) -> None:
    assert not is_secret_env_name(name)


def test_sensitive_var_conn_names_adds_names(core_config: pytest.MonkeyPatch) -> None:
    core_config.setenv("AIRFLOW__CORE__SENSITIVE_VAR_CONN_NAMES", "my_custom_field, other_one")
    reread_masker_config()
    assert is_secret_env_name("MY_CUSTOM_FIELD")
    assert is_secret_env_name("X_OTHER_ONE")
    assert not is_secret_env_name("REGION")


def test_hide_sensitive_var_conn_fields_off_turns_it_off(core_config: pytest.MonkeyPatch) -> None:
    core_config.setenv("AIRFLOW__CORE__HIDE_SENSITIVE_VAR_CONN_FIELDS", "False")
    reread_masker_config()
    assert not is_secret_env_name("HF_TOKEN")
