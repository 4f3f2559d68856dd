"""``dsjobs cache ls`` and the engine cache lines of ``dsjobs gc`` through ``main([...])``, on the real engine
(volumes of the test's own project only; the ``caches`` fixture removes them)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from airflow_provider_dsjobs.cli.main import main
from airflow_provider_dsjobs.documents.record import utcnow
from airflow_provider_dsjobs.runtime.labels import LABEL_PROJECT
from airflow_provider_dsjobs.runtime.volumes import CACHE_LABEL
from airflow_provider_dsjobs.settings import Settings
from tests.jobs.cache_helpers import DAY, Caches, caches

__all__ = ["caches"]

pytestmark = [pytest.mark.docker]


@pytest.fixture()
def cli(local_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The CLI's environment for the test's store; returns ``--store URL``."""
    monkeypatch.setenv("DSJOBS_HOME", str(local_settings.home))
    for name in ("DSJOBS_STORE", "DSJOBS_PROJECT", "DSJOBS_CACHE_MAX_AGE_DAYS", "DSJOBS_CACHE_BUDGET"):
        monkeypatch.delenv(name, raising=False)
    return ["--store", str(local_settings.store_url)]


def _rows(out: str, project: str) -> dict[str, list[str]]:
    """Table rows of ``project``'s volumes: name → the other cells (split on runs of two spaces or more)."""
    rows = {}
    for line in out.splitlines():
        cells = [c for c in line.split("  ") if c.strip()]
        if cells and project in cells[0]:
            rows[cells[0].strip()] = [c.strip() for c in cells[1:]]
    return rows


def test_cache_ls_shows_kind_project_size_last_use_and_in_use(
    cli: list[str], caches: Caches, docker_client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    env = caches.volume("env", size=2048)
    data = caches.volume("data", kind="lab-data")
    caches.used(env, utcnow() + DAY)
    holder = docker_client.containers.create(
        caches.image, ["true"], volumes={data: {"bind": "/data"}}, labels={LABEL_PROJECT: caches.project}
    )
    try:
        assert main(["cache", "ls", "--project", caches.project, *cli]) == 0
        table = capsys.readouterr().out
        assert main(["cache", "ls", "--project", caches.project, "--format", "json", *cli]) == 0
        listed = json.loads(capsys.readouterr().out)
    finally:
        holder.remove(force=True)
    assert table.splitlines()[0].split() == ["NAME", "KIND", "PROJECT", "SIZE", "LAST", "USE", "IN", "USE"]
    rows = _rows(table, caches.project)
    assert rows[env][:2] == ["pyenv", caches.project] and rows[env][3:] and rows[env][-1] == "no"
    assert rows[env][2].endswith("KiB") and rows[data][:2] == ["lab-data", caches.project] and rows[data][-1] == "yes"
    assert [v["name"] for v in listed] == [data, env]  # least recently used first: env was used "tomorrow"
    by_name = {v["name"]: v for v in listed}
    assert by_name[env]["kind"] == "pyenv" and by_name[env]["size_bytes"] >= 2048 and not by_name[env]["in_use"]
    assert by_name[env]["last_used"].startswith((utcnow() + DAY).date().isoformat())
    assert by_name[data]["in_use"] and by_name[data]["used_by"] == [holder.name]


def test_cache_ls_escapes_what_the_engine_says_and_refuses_a_bad_project(
    cli: list[str], caches: Caches, capsys: pytest.CaptureFixture[str]
) -> None:
    evil = caches.volume("evil", labels={LABEL_PROJECT: f"{caches.project}\x1b[2J", CACHE_LABEL: "pyenv"})
    assert main(["cache", "ls", *cli]) == 0  # every project's caches
    out = capsys.readouterr().out
    assert "\x1b" not in out and evil in out and "\\x1b[2J" in out
    assert main(["cache", "ls", "--project", "../other", *cli]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dsjobs: invalid project name '../other'") and err.count("\n") == 1


def test_gc_dry_run_then_gc_remove_the_old_cache_and_say_so(
    cli: list[str],
    caches: Caches,
    local_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    old = caches.volume("old", size=1024)
    time.sleep(2.5)  # older than the max age below (the engine's creation times have whole seconds)
    fresh = caches.volume("fresh")
    monkeypatch.setenv("DSJOBS_CACHE_MAX_AGE_DAYS", str(2 / 86400))
    project = ["--project", local_settings.project]

    assert main(["gc", "--dry-run", *cli, *project]) == 0
    err = capsys.readouterr().err
    assert "engine caches: would remove 1 volume(s), would free 1.0 KiB (dry run: nothing removed)" in err
    assert f"  would remove {old}" in err.splitlines() and caches.exists(old)

    assert main(["gc", *cli, *project]) == 0
    err = capsys.readouterr().err
    assert "engine caches: removed 1 volume(s), freed 1.0 KiB" in err and f"  removed {old}" in err.splitlines()
    assert not caches.exists(old) and caches.exists(fresh)


def test_bad_cache_settings_are_one_usage_line(
    cli: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DSJOBS_CACHE_BUDGET", "lots")
    assert main(["gc", "--dry-run", *cli]) == 2
    err = capsys.readouterr().err
    assert err == (
        "dsjobs: invalid environment: DSJOBS_CACHE_BUDGET must be a size above zero such as `50Gi`, `50GB` or "
        "`500MB` (digits alone: bytes), or none, got 'lots'\n"
    )
    monkeypatch.delenv("DSJOBS_CACHE_BUDGET")
    monkeypatch.setenv("DSJOBS_CACHE_MAX_AGE_DAYS", "-3")
    assert main(["cache", "ls", *cli]) == 2
    assert "DSJOBS_CACHE_MAX_AGE_DAYS must be a number of days above zero" in capsys.readouterr().err
