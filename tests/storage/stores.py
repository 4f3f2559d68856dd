"""Store fixtures shared by the storage and job-store tests: every test that takes ``store`` runs against
both backends — a LocalStore in tmp_path and an S3Store on the moto server (``s3_env``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_dsjobs.storage.base import ObjectStore
from airflow_provider_dsjobs.storage.local import LocalStore
from airflow_provider_dsjobs.storage.s3 import S3Store

MiB = 1024 * 1024
#: S3's minimum part size; small enough that a ~12 MB test object goes multipart on moto.
TEST_PART_SIZE = 5 * MiB


def make_s3_store(s3_env: dict[str, str], **kwargs: object) -> S3Store:
    return S3Store(s3_env["bucket"], "tests", endpoint_url=s3_env["endpoint"], part_size=TEST_PART_SIZE, **kwargs)  # type: ignore[arg-type]


@pytest.fixture()
def local_store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "store")


@pytest.fixture()
def s3_store(s3_env: dict[str, str]) -> S3Store:
    return make_s3_store(s3_env)


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest) -> ObjectStore:
    name = "local_store" if request.param == "local" else "s3_store"
    result: ObjectStore = request.getfixturevalue(name)
    return result
