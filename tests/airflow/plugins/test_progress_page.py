"""The Jobs page shows what a job reported (progress, in the list and on its page) and draws its CPU and memory
from the stored docker_stats.tsv; both come from the job's own output or the store, so both are escaped and
masked like the rest of the page (real api-server)."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_dsjobs.config import load_config
from airflow_provider_dsjobs.jobs.service import JobService
from airflow_provider_dsjobs.jobs.stats import HEADER, STATS_FILE
from tests.airflow.plugins.helpers import ApiServer
from tests.jobs.service_helpers import write_job

pytestmark = [pytest.mark.docker, pytest.mark.airflow]


def test_progress_and_the_resource_chart(api_server: ApiServer, server_service: JobService, tmp_path: Path) -> None:
    hostile = "<script>alert(1)</script> loading"
    cmd = f"cmd: |\n  echo 'dsjobs-progress: 40 {hostile}'\n  echo 'dsjobs-progress: 75% shards'\n"
    record = server_service.submit(load_config(write_job(tmp_path / "job", cmd)))
    done = server_service.get(server_service.wait(record.id).id)  # --async style: nobody followed its output
    assert done.progress == 75.0

    listed = api_server.json("/dsjobs/api/jobs")["jobs"]
    mine = next(j for j in listed if j["id"] == done.id)
    assert (mine["progress"], mine["progress_message"]) == (75.0, "shards")
    _, _, page = api_server.request("/dsjobs/")
    assert b'class="progress-fill" style="width: 75.0%"' in page

    rows = [
        f"2026-12-06T10:00:{s:02d}+00:00\t{cpu}\t{mem}\t1073741824\t3"
        for s, cpu, mem in [(0, 5.0, 100 << 20), (10, 180.5, 400 << 20), (20, 90.0, 300 << 20)]
    ]
    rows.insert(1, "not a row\tat all")  # the store's file: a writer may have tampered with it
    store = server_service.store
    store.put_bytes(server_service.jobs.log_key(done.id, STATS_FILE), ("\n".join([HEADER, *rows]) + "\n").encode())
    job = api_server.json(f"/dsjobs/api/jobs/{done.id}")
    chart = job["stats_chart"]
    assert chart["samples"] == 3 and chart["cpu_peak"] == "180%" and chart["memory_peak"] == "400.0 MiB"
    assert chart["memory_limit"] == "1.0 GiB" and chart["duration"] == "20 s"
    _, _, html = api_server.request(f"/dsjobs/jobs/{done.id}")
    assert b'<polyline class="chart-cpu"' in html and b'id="progress"' in html
    assert b"<script>alert(1)" not in html  # reported text is escaped wherever it shows
