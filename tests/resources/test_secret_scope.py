"""Which secrets a ``secret-id`` (in a config or a registry entry anyone who writes the store can change) may name:
the project's secrets and the dsjobs-namespaced ones always (``DSJOBS_SECRET_<ID>`` for the CLI), any other
environment variable only when its name is in ``DSJOBS_ALLOWED_SECRET_IDS``. A refused name is one line naming
the setting; its value is never read into a message."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_dsjobs.config.loader import config_from_mapping
from airflow_provider_dsjobs.jobs.plan import PlanError, plan_job
from airflow_provider_dsjobs.resources.secrets import FileSecretStore, SecretsError
from airflow_provider_dsjobs.settings import Settings, secret_id_allowed

ENV = {
    "DSJOBS_SECRET_REG_PASS": "from-dsjobs-secret",
    "AWS_SECRET_ACCESS_KEY": "worker-aws-secret-1",
    "TEAM_REGISTRY_TOKEN": "team-token-2",
}


def _settings(tmp_path: Path, env: dict[str, str]) -> Settings:
    return Settings.from_env({**env, "DSJOBS_HOME": str(tmp_path)})


def test_a_workers_environment_is_not_a_secret_store(tmp_path: Path) -> None:
    settings = _settings(tmp_path, ENV)
    assert settings.resolve_secret("REG-PASS") == "from-dsjobs-secret"  # the CLI's own convention still works
    with pytest.raises(SecretsError, match="DSJOBS_ALLOWED_SECRET_IDS") as info:
        settings.resolve_secret("AWS_SECRET_ACCESS_KEY")
    assert "worker-aws-secret-1" not in str(info.value) and "\n" not in str(info.value)
    assert settings.resolve_secret("NOT_SET_ANYWHERE") is None  # missing is "not found", with its own hints


def test_project_secrets_are_always_in_scope(tmp_path: Path) -> None:
    FileSecretStore(tmp_path, "default").set("AWS_SECRET_ACCESS_KEY", "the-projects-own")
    assert _settings(tmp_path, ENV).resolve_secret("AWS_SECRET_ACCESS_KEY") == "the-projects-own"


def test_allow_list_opens_named_environment_variables(tmp_path: Path) -> None:
    settings = _settings(tmp_path, {**ENV, "DSJOBS_ALLOWED_SECRET_IDS": "team_*, OTHER"})
    assert settings.allowed_secret_ids == ("team_*", "OTHER")
    assert settings.resolve_secret("TEAM_REGISTRY_TOKEN") == "team-token-2"  # globs match in any case
    assert settings.resolve_secret("other") is None  # allowed, and simply not there
    with pytest.raises(SecretsError, match="'AWS_SECRET_ACCESS_KEY' is outside DSJOBS_ALLOWED_SECRET_IDS"):
        settings.resolve_secret("AWS_SECRET_ACCESS_KEY")


def test_patterns() -> None:
    assert secret_id_allowed("dsjobs_x", ("DSJOBS_*",)) and secret_id_allowed("anything", ("*",))
    assert not secret_id_allowed("aws_default", ()) and not secret_id_allowed("aws_default", ("dsjobs_*",))


def test_config_naming_a_worker_variable_is_refused_at_plan_time(tmp_path: Path) -> None:
    docker = {"image": "evil.example/x:1", "username": "u", "password": {"secret-id": "AWS_SECRET_ACCESS_KEY"}}
    config = config_from_mapping({"cmd": "true", "env": {"docker": docker}}, base_dir=tmp_path)
    with pytest.raises(PlanError, match=r"env\.docker\.password: .*DSJOBS_ALLOWED_SECRET_IDS") as info:
        plan_job(config, _settings(tmp_path, ENV), job_id="j1")
    assert "worker-aws-secret-1" not in str(info.value) and "\n" not in str(info.value)
