"""A job's own progress markers and its container's CPU/memory stats, on the real engine (both stores)."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import pytest

from airflow_provider_dsjobs.cli.main import main
from airflow_provider_dsjobs.config import load_config
from airflow_provider_dsjobs.documents.record import JobStatus
from airflow_provider_dsjobs.jobs.progress import Progress, parse_progress
from airflow_provider_dsjobs.jobs.service import JobService
from airflow_provider_dsjobs.jobs.stats import HEADER
from airflow_provider_dsjobs.settings import Settings
from tests.jobs.service_helpers import wait_for, write_job

pytestmark = [pytest.mark.docker]

JOB = """
cmd: |
  echo "dsjobs-progress: 10 starting"
  echo "dsjobs-progress: 60% half way"
  while [ ! -e go ]; do python3 -c 'sum(range(3000000))'; done
  echo "dsjobs-progress: 100 done"
"""


def test_markers_are_parsed_strictly() -> None:
    assert parse_progress("dsjobs-progress: 42") == Progress(42.0, "")
    assert parse_progress("dsjobs-progress:7.5%   loading shards ") == Progress(7.5, "loading shards")
    for not_a_marker in ("dsjobs-progress: 101", "dsjobs-progress: lots", "say dsjobs-progress: 5", "progress: 5"):
        assert parse_progress(not_a_marker) is None


def test_progress_shows_in_get_and_stats_go_to_the_stored_logs(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    service = JobService(dataclasses.replace(settings, stats_interval=0.3))
    record = service.submit(load_config(write_job(tmp_path / "job", JOB)))
    lines: list[str] = []
    follower = threading.Thread(target=lambda: service.wait(record.id, log=lambda s, line: lines.append(line)))
    follower.start()
    try:
        other = JobService(settings)  # another process asking while the job runs
        wait_for(lambda: other.get(record.id).progress == 60, what="progress 60 seen by get")
        assert other.get(record.id).progress_message == "half way"
        assert "dsjobs-progress: 60% half way" in lines  # the marker stays in the output (and so the task log)
        wait_for(lambda: service.store.exists(service.jobs.logs_prefix(record.id) + "docker_stats.tsv"), what="stats")
    finally:
        service.runtime.put_archive(record.container_id, "/job/work", _tar_with("go"))
        follower.join(timeout=120)
    done = service.get(record.id)
    assert done.status == JobStatus.SUCCESS and (done.progress, done.progress_message) == (100, "done")

    stats = service.store.get_bytes(service.jobs.logs_prefix(record.id) + "docker_stats.tsv").decode().splitlines()
    assert stats[0] == HEADER and len(stats) >= 3
    rows = [row.split("\t") for row in stats[1:]]
    assert all(int(memory) > 0 for _, _, memory, _, _ in rows)
    assert max(float(cpu) for _, cpu, _, _, _ in rows) > 0  # the busy loop shows (how much: the shared host decides)

    cli = ["--store", settings.effective_store_url, "--project", settings.project]
    assert main(["get", "--id", record.id, *cli]) == 0
    assert "progress: 100% done" in capsys.readouterr().out.splitlines()
    assert main(["download-files", "--id", record.id, "--with-logs", "--output-dir", str(tmp_path / "dl"), *cli]) == 0
    assert (tmp_path / "dl" / f"{record.id}.docker_stats.tsv").read_text().startswith(HEADER)


def _tar_with(name: str) -> list[bytes]:
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        archive.addfile(tarfile.TarInfo(name), io.BytesIO(b""))
    return [buffer.getvalue()]
