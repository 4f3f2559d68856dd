"""Listing jobs from a store that holds thousands of records: ``dsjobs ls`` and the Jobs page's list API
(``GET /dsjobs/api/jobs?limit=50``) against listing the keys alone, with 5 000 and 50 000 records on moto.

Each size gets a moto server process seeded before it serves (``seed``: the bytes ``JobStore.create`` writes, and
each job's index key, put into moto's in-memory backend), then is measured over HTTP against its baselines:

- **keys alone**: ``ListObjectsV2`` of every job's index key (1000 per request), what any listing that touched
  every job would pay at least;
- **every record** (the code before this change: ``JobStore.list``, one GET per record), at 5 000 only;
- **first page, in process**: ``JobService.query_jobs(JobQuery(limit=50))``;
- **dsjobs ls**: the command in a new process (``--limit 50``, default), with the cost of starting a Python
  process that imports the CLI measured beside it;
- **GET /dsjobs/api/jobs?limit=50**: the plugin's FastAPI app in this process (``TestClient``; the login
  dependency replaced by a viewer who may see every job, no api-server), so the row is the endpoint's own cost;
- filtered first pages on ended statuses (``--status ERROR``, one job in ten, and ``--status CANCELLED``, one in
  a thousand, spread over the whole history): each reads its status index (``index/status/<STATUS>/``) and the
  page's records, with the records read and listing requests counted; their baseline is the unfiltered first
  page of the same run;
- a first page of running jobs (``--status EXECUTING``, one in a thousand): it reads the active index only.

Usage: ``python -m bench.bench_listing [--sizes 5000 50000] [--runs 5]``. Target: the first page within 1 s at
both sizes.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

from airflow_provider_dsjobs.documents.codec import encode
from airflow_provider_dsjobs.documents.markers import IndexMarker
from airflow_provider_dsjobs.documents.record import JobRecord, JobStatus, utcnow
from airflow_provider_dsjobs.jobs.query import JobQuery
from airflow_provider_dsjobs.jobs.service import JobService
from airflow_provider_dsjobs.jobs.store import INDEX_VERSION, JobStore, encode_record, index_name
from airflow_provider_dsjobs.settings import Settings
from bench.common import MOTO_ENV, MotoServer, row, time_calls, write_results

PROJECT = "bench"
PREFIX = "store"
BUCKET = "bench-listing"


def seed(count: int) -> None:
    """In the moto server's own process, before it serves: ``count`` records (one in a thousand EXECUTING, one in
    a thousand CANCELLED, one in ten ERROR, the rest SUCCESS) and their index keys, put straight into its in-memory
    backend (HTTP puts would take most of an hour for 50 000 on a shared machine; the listing measured afterwards
    goes over HTTP)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    backend.create_bucket(BUCKET, "us-east-1")
    jobs = JobStore(_Keys(), PROJECT)  # only for key names
    for i in range(count):
        record = JobRecord(id=jobs.new_job_id(), project=PROJECT, name=f"train-{i}", labels={"n": str(i)})
        record.set_status(_status(i), "x" if _status(i) is JobStatus.ERROR else None)
        index = jobs.index_status_prefix(record.status)  # the active index for the running ones
        backend.put_object(BUCKET, f"{PREFIX}/{index}{index_name(record)}", b"")
        backend.put_object(BUCKET, f"{PREFIX}/{jobs.record_key(record.id)}", encode_record(record))
        backend.put_object(BUCKET, f"{PREFIX}/{jobs.index_jobs_prefix()}{index_name(record)}", b"")
    marker = encode(IndexMarker(utcnow(), INDEX_VERSION).to_doc())
    backend.put_object(BUCKET, f"{PREFIX}/{jobs.index_marker_key()}", marker)


def _status(i: int) -> JobStatus:
    if i % 1000 == 1:
        return JobStatus.EXECUTING
    if i % 1000 == 500:
        return JobStatus.CANCELLED
    return JobStatus.ERROR if i % 10 == 0 else JobStatus.SUCCESS


class _Keys:
    """Stands in for a store where only key names are needed."""

    url = "s3://seed"


#: Runs a moto server in a new process after ``seed(count)``: ``python -c SEEDED_SERVER <port> <count>``.
SEEDED_SERVER = """
import sys
from bench.bench_listing import seed
seed(int(sys.argv[2]))
from moto.server import main
main(["-H", "127.0.0.1", "-p", sys.argv[1]])
"""


class SeededMoto(MotoServer):
    """``MotoServer`` whose bucket ``BUCKET`` already holds ``count`` job records."""

    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = count

    def __enter__(self) -> SeededMoto:
        cwd = str(Path(__file__).resolve().parents[1])
        self._proc = subprocess.Popen(
            [sys.executable, "-c", SEEDED_SERVER, str(self.port), str(self.count)],
            stdout=self._log, stderr=subprocess.STDOUT, cwd=cwd, env={**os.environ, "PYTHONPATH": cwd},
        )  # fmt: skip
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline and self._proc.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.5)
        self.__exit__()
        raise RuntimeError("the seeded moto server did not start")


def list_keys_alone(moto: MotoServer, bucket: str, jobs: JobStore) -> int:
    paginator = moto.client().get_paginator("list_objects_v2")
    return sum(
        len(p.get("Contents", []))
        for p in paginator.paginate(Bucket=bucket, Prefix=f"{PREFIX}/{jobs.index_jobs_prefix()}")
    )


def api_client(service: JobService) -> Any:
    from fastapi.testclient import TestClient

    from airflow_provider_dsjobs.plugins import api
    from airflow_provider_dsjobs.plugins.app import create_app
    from airflow_provider_dsjobs.plugins.auth import Access, viewer_access

    class SeesAll(Access):
        """A viewer allowed every job, asking no auth manager (there is none in this process)."""

        def can_view(self, record: JobRecord) -> bool:
            return True

    app = create_app()
    app.dependency_overrides[viewer_access] = lambda: SeesAll(None)
    api.job_service = lambda conn_id: service  # type: ignore[assignment]
    return TestClient(app)


def _median(samples: list[float]) -> float:
    return statistics.median(samples)


def costs(store: Any, call: Any) -> tuple[int, int]:
    """The records read and the listing requests made by one ``call()`` (the store's own methods wrapped on the
    instance for that call only)."""
    reads: list[str] = []
    listings: list[str] = []
    real_get, real_list = store.get_with_version, store.list_keys

    def get_with_version(key: str) -> Any:
        if key.endswith("/record.json"):
            reads.append(key)
        return real_get(key)

    def list_keys(prefix: str, **kwargs: Any) -> Any:
        listings.append(prefix)
        return real_list(prefix, **kwargs)

    store.get_with_version, store.list_keys = get_with_version, list_keys
    try:
        call()
    finally:
        del store.get_with_version, store.list_keys
    return len(reads), len(listings)


def ended_rows(service: JobService, size: int, runs: int, first_page: float) -> list[dict[str, str]]:
    """First pages filtered on ended statuses, against the unfiltered first page of the same run."""
    rows = []
    for status, share in ((JobStatus.ERROR, "1 in 10"), (JobStatus.CANCELLED, "1 in 1000")):
        query = JobQuery(statuses=frozenset({status}), limit=50)
        call = partial(service.query_jobs, query)
        samples = time_calls(call, runs)
        reads, listings = costs(service.jobs.store, call)
        rows.append(row(f"{size}: first page of {status.value} jobs ({share})", _median(samples), first_page,
                        detail=f"{reads} records read, {listings} listing request(s); baseline: the unfiltered "
                        f"first page (min {min(samples):.3f}, max {max(samples):.3f})"))  # fmt: skip
    return rows


def measure(moto: MotoServer, bucket: str, size: int, runs: int, env: dict[str, str]) -> list[dict[str, str]]:
    settings = Settings(store_url=f"s3://{bucket}/{PREFIX}", s3_endpoint_url=moto.endpoint, project=PROJECT)
    service = JobService(settings)
    jobs = service.jobs
    rows = []
    # moto answers each listing request by scanning the whole bucket: at 50 000 records one pass takes minutes.
    key_runs = runs if size <= 10_000 else 1
    keys = time_calls(lambda: list_keys_alone(moto, bucket, jobs), key_runs, warmup=1 if key_runs > 1 else 0)
    base = _median(keys)
    rows.append(row(f"{size}: list every index key (baseline)", base, detail=f"{size} keys, {key_runs} run(s)"))
    print(rows[-1], flush=True)
    if size <= 5000:
        every = time_calls(lambda: jobs.list(), 1, warmup=0)
        rows.append(row(f"{size}: every record (JobStore.list, before)", every[0], base, detail="one GET per record"))
    page = time_calls(lambda: service.query_jobs(JobQuery(limit=50)), runs)
    rows.append(row(f"{size}: first page, in process (query_jobs limit=50)", _median(page), base, target="≤ 1 s",
                    ok=_median(page) <= 1.0, detail=f"min {min(page):.3f}, max {max(page):.3f}"))  # fmt: skip
    rows += ended_rows(service, size, runs, _median(page))
    running = time_calls(lambda: service.query_jobs(JobQuery(statuses=frozenset({JobStatus.EXECUTING}))), runs)
    rows.append(row(f"{size}: first page of EXECUTING jobs (1 in 1000)", _median(running), base,
                    detail=f"reads the active index: {size // 1000} records"))  # fmt: skip
    client = api_client(service)
    response = client.get("/api/jobs?limit=50")
    assert response.status_code == 200 and len(response.json()["jobs"]) == 50, response.text[:300]
    api = time_calls(lambda: client.get("/api/jobs?limit=50"), runs)
    rows.append(row(f"{size}: GET /dsjobs/api/jobs?limit=50", _median(api), base, target="≤ 1 s",
                    ok=_median(api) <= 1.0, detail=f"total shown: {response.json()['total']}+"))  # fmt: skip
    command = [sys.executable, "-m", "airflow_provider_dsjobs.cli", "ls", "--store", settings.store_url,
               "--project", PROJECT]  # fmt: skip
    startup = [sys.executable, "-c", "import airflow_provider_dsjobs.cli.job_commands"]
    ls, start = [], []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(startup, env=env, check=True, capture_output=True)
        start.append(time.perf_counter() - started)
        started = time.perf_counter()
        out = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
        ls.append(time.perf_counter() - started)
        assert len(out.stdout.splitlines()) == 51, out.stdout[-300:]
    rows.append(row(f"{size}: python imports the CLI (no listing)", _median(start), base))
    listing_part = _median(ls) - _median(start)
    rows.append(row(f"{size}: dsjobs ls (new process, 50 newest)", _median(ls), base, target="≤ 1 s + start-up",
                    ok=listing_part <= 1.0, detail=f"listing part {listing_part:.3f} s"))  # fmt: skip
    for r in rows[1:]:
        print(" | ".join(r.values()))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 50000])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    env = {**os.environ, **MOTO_ENV}
    os.environ.update(MOTO_ENV)
    rows: list[dict[str, str]] = []
    for size in sorted(args.sizes):
        started = time.perf_counter()
        with SeededMoto(size) as moto:
            print(f"moto seeded with {size} records in {time.perf_counter() - started:.0f} s")
            env["DSJOBS_S3_ENDPOINT_URL"] = moto.endpoint
            rows += measure(moto, BUCKET, size, args.runs, env)
    path = write_results(
        "listing",
        rows,
        title="Listing jobs: dsjobs ls and the Jobs page's list API with thousands of records (moto)",
        notes=(
            "Each size in the same run as its baseline (listing every job's index key, 1000 per request); ratio = "
            "value / that baseline. Records and index keys were put into a moto server's backend (127.0.0.1) "
            "before it served; everything measured goes over HTTP "
            "(one record in ten ERROR, one in a thousand CANCELLED, one in a thousand EXECUTING); "
            f"median of {args.runs} runs after one warm-up. The API row calls the "
            "plugin's FastAPI app in process (TestClient, login replaced by a viewer who sees every job). Before "
            "this change `dsjobs ls` and the API read every record (the `every record` row; 16.7 s for 5 001 in the "
            "issue); `dsjobs ls` now shows the newest 50 (`--limit`, `--all`). The ERROR and CANCELLED rows read the "
            "status index (`index/status/<STATUS>/`): their baseline is the unfiltered first page of the same run; "
            "before the status index they read records newest first in doubling rounds until the page was full "
            "(at 5 000 ERROR took 2.1 s, ratio 1.4 to listing every key, in the previous results). moto answers "
            "each listing request by scanning the bucket, so a listing request costs more here the more keys the "
            "bucket holds. Load average when written: "
            f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} (a machine shared with other work)."
        ),
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
