"""The maintenance DAG (``dags_examples/maintenance.py``) removes the engine caches its connection's extras say
are old, and returns what went (real Airflow DagBag, real engine, local store)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dsjobs.compat import AirflowFailException
from airflow_provider_dsjobs.hooks import DataSphereJobsHook
from airflow_provider_dsjobs.settings import Settings
from tests.airflow.helpers import REPO, dag_bag
from tests.airflow.hooks.helpers import set_conn
from tests.jobs.cache_helpers import Caches, caches

__all__ = ["caches"]

pytestmark = [pytest.mark.airflow, pytest.mark.docker]


def _maintenance_task() -> Any:
    bag = dag_bag(REPO / "dags_examples" / "maintenance.py")
    assert bag.import_errors == {}
    return bag.dags["dsjobs_maintenance"].get_task("collect_garbage")  # the parsed DAG, no database


def test_the_maintenance_task_removes_old_engine_caches_as_the_extras_say(
    dsjobs_home: Path, local_settings: Settings, caches: Caches, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = caches.volume("old")
    time.sleep(2.5)  # older than the max age below (the engine's creation times have whole seconds)
    fresh = caches.volume("fresh")
    extra = {"store_url": local_settings.store_url, "project": caches.project}
    set_conn(monkeypatch, "ds_maint", conn_type="dsjobs", extra={**extra, "cache_max_age_days": str(2 / 86400)})

    result = _maintenance_task().python_callable(dsjobs_conn_id="ds_maint")

    assert result["caches_removed"] == [old] and result["caches_kept"] == {}
    assert not caches.exists(old) and caches.exists(fresh)


def test_cache_extras_are_read_and_checked(dsjobs_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, "ds", conn_type="dsjobs", extra={"cache_max_age_days": "7", "cache_budget": "2Gi"})
    settings = DataSphereJobsHook(dsjobs_conn_id="ds").get_settings()
    assert (settings.cache_max_age_days, settings.cache_budget) == (7.0, 2 << 30)
    for extra, allowed in (
        ({"cache_max_age_days": "soon"}, "extra cache_max_age_days must be a number of days above zero"),
        ({"cache_budget": "big"}, "extra cache_budget must be a size above zero such as `50Gi`"),
    ):
        set_conn(monkeypatch, "ds", conn_type="dsjobs", extra=extra)
        with pytest.raises(AirflowFailException) as caught:
            DataSphereJobsHook(dsjobs_conn_id="ds").get_settings()
        assert str(caught.value).startswith(f"connection 'ds': {allowed}") and "\n" not in str(caught.value)
