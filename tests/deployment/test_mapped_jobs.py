"""Many deferrable jobs at once, all waited on by the one triggerer: every one succeeds in its first try, each
with exactly one job and one container. Wall time and the triggerer's peak memory go to
``bench/results/deployment.md``, as ratios to one job through the same DAG and to the idle triggerer.

``DSJOBS_DEPLOY_MAPPED_JOBS`` (default 50) sets how many jobs, ``DSJOBS_DEPLOY_JOB_SECONDS`` (20) how long each
runs; more slots per worker (``DSJOBS_DEPLOY_CONCURRENCY``, 4) launch them faster. A test run writes its figures
to ``_work/results/deployment.md``, so the tracked ``bench/results/deployment.md`` changes only when asked:
``DSJOBS_DEPLOY_RESULTS=bench/results/deployment.md``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psutil
import pytest

from bench.common import write_results
from tests.airflow.helpers import REPO
from tests.deployment.harness import Deployment

pytestmark = pytest.mark.deployment

DAG_ID = "deploy_mapped"
JOBS = int(os.environ.get("DSJOBS_DEPLOY_MAPPED_JOBS", "50"))
SECONDS = int(os.environ.get("DSJOBS_DEPLOY_JOB_SECONDS", "20"))
MIB = 1024 * 1024


class TreeMemory:
    """Samples the resident memory of a process and its children (every 0.5 s, in a thread): the peak of the
    sum, and each process's own kernel-recorded peak (VmHWM) when sampling stops."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.peak_total = 0
        self.hwm: dict[int, int] = {}
        self._stop = threading.Event()

    def _processes(self) -> list[psutil.Process]:
        return [self.root, *self.root.children(recursive=True)]

    def current(self) -> int:
        total = 0
        for proc in self._processes():
            try:
                total += proc.memory_info().rss
            except psutil.NoSuchProcess:
                continue
        return total

    def _hwm(self) -> None:
        for proc in self._processes():
            try:
                with open(f"/proc/{proc.pid}/status") as fh:
                    line = next(x for x in fh if x.startswith("VmHWM:"))
                self.hwm[proc.pid] = int(line.split()[1]) * 1024
            except (OSError, StopIteration):
                continue

    @contextmanager
    def sampling(self) -> Iterator[TreeMemory]:
        def loop() -> None:
            while not self._stop.wait(0.5):
                self.peak_total = max(self.peak_total, self.current())

        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join()
            self._hwm()


def _run_mapped(deployment: Deployment, jobs: int) -> tuple[str, float, set[tuple[str, str]]]:
    """Trigger the mapped DAG with ``jobs`` map indexes and wait; (run id, wall seconds, containers seen as
    (map_index, container id) pairs)."""
    started = time.monotonic()
    run_id = deployment.trigger(DAG_ID, conf={"jobs": jobs, "seconds": SECONDS})
    seen: set[tuple[str, str]] = set()
    deadline = started + 300 + jobs * 20
    while deployment.run(DAG_ID, run_id)["state"] not in ("success", "failed"):
        seen |= {(c.labels["airflow.map_index"], c.id) for c in deployment.containers(**{"airflow.run_id": run_id})}
        assert time.monotonic() < deadline, f"{jobs} mapped jobs did not finish in {deadline - started:.0f} s"
        time.sleep(3)
    return run_id, time.monotonic() - started, seen


def _check_run(deployment: Deployment, run_id: str, jobs: int, seen: set[tuple[str, str]]) -> None:
    assert deployment.run(DAG_ID, run_id)["state"] == "success"
    mapped = [ti for ti in deployment.task_instances(DAG_ID, run_id) if ti["task_id"] == "job"]
    assert sorted(ti["map_index"] for ti in mapped) == list(range(jobs))
    assert {(ti["state"], ti["try_number"]) for ti in mapped} == {("success", 1)}
    records = deployment.run_jobs(DAG_ID, run_id)
    assert sorted(int(r.labels["airflow.map_index"]) for r in records) == list(range(jobs))  # one job each
    assert {r.status.value for r in records} == {"SUCCESS"}
    per_index: dict[str, set[str]] = {}
    for index, container_id in seen:
        per_index.setdefault(index, set()).add(container_id)
    assert all(len(ids) == 1 for ids in per_index.values()), "a map index had two containers"
    assert {r.container_id for r in records} >= {cid for ids in per_index.values() for cid in ids}
    assert deployment.containers(**{"airflow.run_id": run_id}) == []
    # They were waited on by the triggerer, not by worker slots: it wrote a trigger log for each.
    trigger_logs = list((deployment.directory / "homes" / "triggerer" / "airflow" / "logs").rglob("*.trigger.*"))
    assert len({p.parent for p in trigger_logs if f"run_id={run_id}" in str(p)}) == jobs


# Longer than the suite's 900 s: on a loaded 2-core machine the 50 launches and 50 resumes take a while.
@pytest.mark.timeout(1800)
def test_mapped_deferrable_jobs_tracked_by_one_triggerer(deployment: Deployment) -> None:
    pid = deployment.pid("triggerer")
    assert pid is not None
    memory = TreeMemory(pid)

    baseline_run, baseline_wall, baseline_seen = _run_mapped(deployment, 1)
    _check_run(deployment, baseline_run, 1, baseline_seen)
    idle = memory.current()
    with memory.sampling():
        run_id, wall, seen = _run_mapped(deployment, JOBS)
    _check_run(deployment, run_id, JOBS, seen)

    rows: list[dict[str, Any]] = [
        {
            "metric": f"wall time, {JOBS} mapped deferrable jobs of {SECONDS} s",
            "value": f"{wall:.1f} s",
            "baseline": f"{baseline_wall:.1f} s (1 job, same DAG)",
            "ratio": f"{wall / baseline_wall:.2f}",
            "detail": f"{JOBS} successes in the first try, {len(seen)} containers, one per map index",
        },
        {
            "metric": "triggerer peak RSS (process tree, sampled every 0.5 s)",
            "value": f"{memory.peak_total / MIB:.1f} MiB",
            "baseline": f"{idle / MIB:.1f} MiB (idle, same triggerer)",
            "ratio": f"{memory.peak_total / idle:.2f}",
            "detail": "VmHWM per process: " + ", ".join(f"{v / MIB:.1f} MiB" for v in memory.hwm.values()),
        },
    ]
    concurrency = os.environ.get("DSJOBS_DEPLOY_CONCURRENCY", "4")
    write_results(
        REPO / os.environ.get("DSJOBS_DEPLOY_RESULTS", "_work/results/deployment.md"),
        rows,
        title="Distributed deployment: many deferrable jobs on one triggerer",
        notes=(
            "`tests/deployment/test_mapped_jobs.py` on the harness of `scripts/deployment/` (CeleryExecutor, two "
            f"workers with {concurrency} slots each, PostgreSQL, Redis, moto S3, the engine over TLS): one mapped "
            "`DataSphereJobOperator(deferrable=True)`. The wall time includes scheduling, launching every job from "
            "a worker slot, the triggerer's wait and the resumed tasks' stage-out. Scale with "
            "`DSJOBS_DEPLOY_MAPPED_JOBS` and `DSJOBS_DEPLOY_JOB_SECONDS`. The machine is shared with other runs."
        ),
    )
