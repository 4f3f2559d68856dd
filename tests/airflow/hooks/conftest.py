"""Connections for hook tests: Airflow's own env-var secrets backend (``AIRFLOW_CONN_<ID>`` JSON), nothing
else from the environment."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture()
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:

    for name in list(os.environ):
        if name.startswith(("DSJOBS_", "AIRFLOW_CONN_", "AIRFLOW_VAR_", "AWS_")) or name == "DOCKER_HOST":
            monkeypatch.delenv(name)
    monkeypatch.setenv("DSJOBS_HOME", str(tmp_path / "home"))
    return monkeypatch


def set_conn(monkeypatch: pytest.MonkeyPatch, conn_id: str, **fields: Any) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields))
