"""A job as a user runs it, hardened by default: its container cannot gain privileges and holds at most the
settings' number of processes, and the embedded local store it leaves behind is its owner's only."""

from __future__ import annotations

import dataclasses
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_dsjobs.config import load_config
from airflow_provider_dsjobs.documents.record import JobStatus
from airflow_provider_dsjobs.jobs.service import JobService
from airflow_provider_dsjobs.runtime.limits import DEFAULT_PIDS_LIMIT
from airflow_provider_dsjobs.settings import Settings
from tests.jobs.service_helpers import write_job

pytestmark = [pytest.mark.docker]

JOB = """
name: hardened
cmd: |
  grep NoNewPrivs /proc/self/status
  cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max
  cp ${DATA} ${RESULT}
inputs:
  - data.txt: DATA
outputs:
  - result.txt: RESULT
"""


@pytest.fixture()
def open_umask() -> Iterator[None]:
    old = os.umask(0)
    yield
    os.umask(old)


def test_a_job_is_hardened_and_leaves_a_private_store(
    local_settings: Settings, tmp_path: Path, open_umask: None
) -> None:
    settings = dataclasses.replace(local_settings, store_url=None, pids_limit=64)  # the embedded store, in home
    cfg = write_job(tmp_path / "job", JOB, {"data.txt": "private data\n"})
    service = JobService(settings)
    lines: list[str] = []
    record = service.submit(load_config(cfg))
    done = service.wait(record.id, log=lambda stream, line: lines.append(line))
    assert done.status == JobStatus.SUCCESS, done.status_details
    assert lines[:2] == ["NoNewPrivs:\t1", "64"]
    service.close()
    home = settings.home
    assert (home / "store").is_dir() and (home / "cache").is_dir()
    shared = {
        str(path.relative_to(home)): oct(stat.S_IMODE(path.lstat().st_mode))
        for path in [home, *home.rglob("*")]
        if stat.S_IMODE(path.lstat().st_mode) & 0o077
    }
    assert not shared, f"readable by the group or others under {home}: {shared}"


def test_the_pids_limit_setting() -> None:
    assert Settings.from_env({}).pids_limit == DEFAULT_PIDS_LIMIT == 4096
    assert Settings.from_env({"DSJOBS_PIDS_LIMIT": "256"}).pids_limit == 256
    assert Settings.from_env({"DSJOBS_PIDS_LIMIT": "0"}).pids_limit == 0
    with pytest.raises(ValueError, match=r"DSJOBS_PIDS_LIMIT must be a whole number of processes \(0 or -1: no limit"):
        Settings.from_env({"DSJOBS_PIDS_LIMIT": "many"})
