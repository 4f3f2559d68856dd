"""Project secrets in the CLI's 0600 file: set, list, remove, atomic replacement, names as DataSphere allows."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from airflow_provider_dsjobs.resources.secrets import FileSecretStore, SecretsError
from airflow_provider_dsjobs.settings import Settings


def test_set_list_remove_and_the_file_is_private(tmp_path: Path) -> None:
    secrets = FileSecretStore(tmp_path / "home", "p1")
    secrets.set("MY-SECRET", "v1")
    secrets.set("API_TOKEN", "v2")
    secrets.set("MY-SECRET", "v3")  # replaced, not duplicated
    assert secrets.names() == ["API_TOKEN", "MY-SECRET"]
    assert secrets.get("MY-SECRET") == "v3"
    assert stat.S_IMODE(secrets.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(secrets.directory.stat().st_mode) == 0o700
    assert [p.name for p in secrets.directory.iterdir()] == ["p1.json"]  # no temporary file left behind
    assert secrets.remove("API_TOKEN") is True
    assert secrets.remove("API_TOKEN") is False
    assert secrets.names() == ["MY-SECRET"]
    assert FileSecretStore(tmp_path / "home", "p2").names() == []  # projects do not share secrets


@pytest.mark.parametrize("name", ["", "1ABC", "has space", "a=b", "x" * 101, "dot.ted"])
def test_bad_names_are_refused_with_the_rule(tmp_path: Path, name: str) -> None:
    with pytest.raises(SecretsError, match="letters, digits, '_' or '-'"):
        FileSecretStore(tmp_path, "p").set(name, "v")


def test_bad_values_are_refused_without_showing_them(tmp_path: Path) -> None:
    secrets = FileSecretStore(tmp_path, "p")
    with pytest.raises(SecretsError, match="NUL byte") as err:
        secrets.set("TOKEN", "sec\x00ret-value")
    assert "ret-value" not in str(err.value)
    with pytest.raises(SecretsError, match="larger than 64 KiB"):
        secrets.set("TOKEN", "x" * (64 * 1024 + 1))
    assert not secrets.path.exists()


def test_a_damaged_file_is_one_clear_error(tmp_path: Path) -> None:
    secrets = FileSecretStore(tmp_path, "p")
    secrets.directory.mkdir(parents=True)
    secrets.path.write_text("[1, 2]")
    with pytest.raises(SecretsError, match="not a name → value map"):
        secrets.names()
    secrets.path.write_text("{not json")
    with pytest.raises(SecretsError, match="not JSON"):
        secrets.names()


def test_settings_resolve_a_secret_id_from_the_project_first(tmp_path: Path) -> None:
    FileSecretStore(tmp_path, "p").set("REG-PASS", "from-project")
    settings = Settings(home=tmp_path, project="p", secret_resolver={"REG-PASS": "from-env", "OTHER": "o"}.get)
    assert settings.resolve_secret("REG-PASS") == "from-project"
    assert settings.resolve_secret("OTHER") == "o"  # DSJOBS_SECRET_<ID> and Airflow still answer the rest
    assert settings.resolve_secret("MISSING") is None
    assert json.loads(FileSecretStore(tmp_path, "p").path.read_text()) == {"REG-PASS": "from-project"}
