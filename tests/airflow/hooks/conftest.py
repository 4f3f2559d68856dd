"""The environment of hook tests: nothing of dsjobs, Airflow connections or AWS from the caller's (connections
are set with ``helpers.set_conn``, through Airflow's own env-var secrets backend)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture()
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith(("DSJOBS_", "AIRFLOW_CONN_", "AIRFLOW_VAR_", "AWS_")) or name.startswith("DOCKER_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DSJOBS_HOME", str(tmp_path / "home"))
    return monkeypatch
