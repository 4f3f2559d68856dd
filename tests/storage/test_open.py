"""open_store: URL forms, settings, and the unknown-scheme error."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_dsjobs.settings import Settings
from airflow_provider_dsjobs.storage.base import StoreError
from airflow_provider_dsjobs.storage.local import LocalStore
from airflow_provider_dsjobs.storage.open import open_store
from airflow_provider_dsjobs.storage.s3 import S3Store


def test_default_is_the_embedded_store_under_home(tmp_path: Path) -> None:
    store = open_store(Settings(home=tmp_path))
    assert isinstance(store, LocalStore)
    store.put_bytes("k", b"v")
    assert (tmp_path / "store" / "k").read_bytes() == b"v"


def test_file_url_and_bare_path(tmp_path: Path) -> None:
    a = open_store(Settings(store_url=(tmp_path / "a").as_uri()))
    b = open_store(Settings(store_url=str(tmp_path / "b")))
    assert isinstance(a, LocalStore) and a.root == (tmp_path / "a").resolve()
    assert isinstance(b, LocalStore) and b.root == (tmp_path / "b").resolve()


def test_s3_url_uses_settings_endpoint(s3_env: dict[str, str]) -> None:
    settings = Settings.from_env()
    settings = Settings(store_url=s3_env["url"], s3_endpoint_url=settings.s3_endpoint_url)
    store = open_store(settings)
    assert isinstance(store, S3Store)
    assert store.url == s3_env["url"]
    store.put_bytes("k", b"v")
    assert store.get_bytes("k") == b"v"


def test_unknown_scheme() -> None:
    with pytest.raises(StoreError) as err:
        open_store(Settings(store_url="gs://bucket/x"))
    assert str(err.value) == "unknown store URL scheme 'gs' in gs://bucket/x: use s3://bucket/prefix or file:///path"


def test_unknown_scheme_does_not_echo_a_password() -> None:
    with pytest.raises(StoreError) as err:
        open_store(Settings(store_url="ftp://me:hunter2@host/x"))
    assert "hunter2" not in str(err.value)


def test_s3_url_without_bucket() -> None:
    with pytest.raises(StoreError, match="needs a bucket"):
        open_store(Settings(store_url="s3://"))


def test_s3_credentials_from_settings_fields(s3_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    settings = Settings(
        store_url=s3_env["url"],
        s3_endpoint_url=s3_env["endpoint"],
        s3_region="us-east-1",
        aws_access_key_id="explicit",
        aws_secret_access_key="explicit-secret",
    )
    store = open_store(settings)
    store.put_bytes("k", b"v")
    assert store.get_bytes("k") == b"v"
    assert "explicit-secret" not in repr(store) and "explicit-secret" not in repr(settings)


@pytest.mark.parametrize(("value", "durable"), [(None, True), ("1", True), ("on", True), ("0", False), ("OFF", False)])
def test_local_fsync_setting_reaches_the_store(tmp_path: Path, value: str | None, durable: bool) -> None:
    env = {"DSJOBS_STORE": (tmp_path / "s").as_uri()} | ({"DSJOBS_LOCAL_FSYNC": value} if value else {})
    store = open_store(Settings.from_env(env))
    assert isinstance(store, LocalStore) and store.fsync is durable
    bare = open_store(Settings(store_url=str(tmp_path / "b"), local_fsync=durable))
    assert isinstance(bare, LocalStore) and bare.fsync is durable


def test_local_fsync_bad_value_is_one_line() -> None:
    with pytest.raises(ValueError) as err:
        Settings.from_env({"DSJOBS_LOCAL_FSYNC": "sometimes"})
    assert str(err.value) == "DSJOBS_LOCAL_FSYNC must be 1 or 0 (also true/false, yes/no, on/off), got 'sometimes'"
