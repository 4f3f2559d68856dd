"""Fixtures for the Airflow layer: a private AIRFLOW_HOME, a fresh dsjobs home per test and the service the hook
builds (the in-process harness, a task-instance stand-in and a dict-backed task_state_store, is in ``helpers``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from tests.airflow.helpers import REPO

# Airflow reads its home at import time: keep it private to the test run (never a user's or CI's own home), one
# per Airflow release (a database is never migrated down, nor a newer airflow.cfg read by an older Airflow), with
# the test DAGs as its DAG folder (dag.test() serializes DAGs from there).
os.environ["AIRFLOW_HOME"] = str(REPO / "_work" / f"airflow-tests-{version('apache-airflow-core')}")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(Path(__file__).resolve().parent / "dags")

_KEEP_ENV = {
    "DSJOBS_REQUIRE_DOCKER",
    "DSJOBS_REQUIRE_S3",
    "DSJOBS_REQUIRE_SECOND_ENGINE",
    "DSJOBS_TEST_IMAGE",
    "DSJOBS_DOCKER_URL",
}


@pytest.fixture()
def dsjobs_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, test_image: str) -> Path:
    """Zero-configuration settings (no connection): a fresh local store and the local test image."""
    for name in list(os.environ):
        if name.startswith(("DSJOBS_", "AIRFLOW_CONN_", "AIRFLOW_VAR_")) and name not in _KEEP_ENV:
            monkeypatch.delenv(name)
    home = tmp_path / "dsjobs"
    monkeypatch.setenv("DSJOBS_HOME", str(home))
    monkeypatch.setenv("DSJOBS_DEFAULT_IMAGE", test_image)
    monkeypatch.setenv("DSJOBS_PYTHON_IMAGE", "dsjobs-test/python:{version}")
    return home


@pytest.fixture()
def service(dsjobs_home: Path) -> Iterator[Any]:
    """The same JobService the hook builds without a connection; cancels whatever a test left running."""
    from airflow_provider_dsjobs.hooks import DataSphereJobsHook

    svc = DataSphereJobsHook(dsjobs_conn_id="dsjobs_default").get_conn()
    yield svc
    for record in svc.list_jobs():
        if not record.status.terminal:
            with contextlib.suppress(Exception):  # best-effort cleanup of the test's own containers
                svc.cancel(record.id, graceful=False)
    svc.close()
