"""Connections for hook tests, set the way Airflow's env-var secrets backend reads them."""

from __future__ import annotations

import json
from typing import Any

import pytest


def set_conn(monkeypatch: pytest.MonkeyPatch, conn_id: str, **fields: Any) -> None:
    """Define connection ``conn_id`` as ``AIRFLOW_CONN_<ID>`` JSON."""
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields))
