"""Container CPU and memory, sampled while a job is followed, stored as ``logs/docker_stats.tsv`` (DataSphere's name).

``StatsSampler`` runs in a daemon thread during ``JobService.wait``: every ``interval`` seconds one engine stats
read (``one-shot``: no waiting for a second sample; CPU % comes from the difference to the previous read) becomes
a row ``time  cpu_percent  memory_bytes  memory_limit_bytes  pids``. The file is stored every few samples and when
sampling stops, so it survives the job; rows past ``MAX_ROWS`` keep only every other one (the whole run stays
covered, memory stays bounded). ``download-files --with-logs`` brings it back with the other logs.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from airflow_provider_dsjobs.storage.base import ObjectStore, StoreError

log = logging.getLogger(__name__)

STATS_FILE = "docker_stats.tsv"
HEADER = "time\tcpu_percent\tmemory_bytes\tmemory_limit_bytes\tpids"
MAX_ROWS = 5000
#: Store the file after this many new rows (and when sampling stops).
STORE_EVERY = 6

#: Reads one stats document of the container from the engine (``None`` when it is gone).
StatsReader = Callable[[], "dict[str, Any] | None"]


def cpu_percent(now: dict[str, Any], before: dict[str, Any] | None) -> float:
    """CPU use between two stats documents, as ``docker stats`` shows it (100 % = one full CPU)."""
    if before is None:
        return 0.0
    try:
        cpu = now["cpu_stats"]["cpu_usage"]["total_usage"] - before["cpu_stats"]["cpu_usage"]["total_usage"]
        system = now["cpu_stats"]["system_cpu_usage"] - before["cpu_stats"]["system_cpu_usage"]
        cpus = now["cpu_stats"].get("online_cpus") or len(now["cpu_stats"]["cpu_usage"].get("percpu_usage") or [1])
    except (KeyError, TypeError):
        return 0.0
    return round(cpu / system * cpus * 100.0, 1) if system > 0 and cpu >= 0 else 0.0


def stats_row(now: dict[str, Any], before: dict[str, Any] | None) -> str:
    memory = now.get("memory_stats") or {}
    usage = int(memory.get("usage") or 0) - int((memory.get("stats") or {}).get("inactive_file") or 0)
    pids = int((now.get("pids_stats") or {}).get("current") or 0)
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return f"{stamp}\t{cpu_percent(now, before)}\t{max(usage, 0)}\t{int(memory.get('limit') or 0)}\t{pids}"


class StatsSampler:
    """Samples ``read`` every ``interval`` seconds into ``key`` of ``store`` until ``stop``."""

    def __init__(self, read: StatsReader, store: ObjectStore, key: str, interval: float) -> None:
        self._read, self._store, self._key, self._interval = read, store, key, interval
        self._rows: list[str] = []
        self._unsaved = 0
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dsjobs-stats", daemon=True)

    def __enter__(self) -> StatsSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if not self._stopped.is_set():
            self._stopped.set()
            self._thread.join(timeout=self._interval + 30)
            self._save()

    @property
    def rows(self) -> list[str]:
        return list(self._rows)

    def _run(self) -> None:
        before: dict[str, Any] | None = None
        while not self._stopped.is_set():
            try:
                now = self._read()
            except Exception as exc:  # the engine hiccuped: sampling is best effort, the job goes on
                log.debug("stats: %s", exc)
                now = None
            if now is not None and now.get("memory_stats"):  # empty once the container has stopped
                self._rows.append(stats_row(now, before))
                before = now
                self._unsaved += 1
                if len(self._rows) > MAX_ROWS:
                    self._rows = self._rows[::2]
                if self._unsaved >= STORE_EVERY:
                    self._save()
            self._stopped.wait(self._interval)

    def _save(self) -> None:
        if not self._rows:
            return
        data = ("\n".join([HEADER, *self._rows]) + "\n").encode()
        try:
            self._store.put_bytes(self._key, data)
            self._unsaved = 0
        except StoreError as exc:
            log.warning("stats: cannot store %s: %s", self._store.uri(self._key), exc)


#: The most of a stored stats file a reader takes (``MAX_ROWS`` rows are ~300 KB): a tampered file stays cheap.
MAX_READ_BYTES = 2 << 20


@dataclass(frozen=True)
class StatsPoint:
    """One sample as a chart draws it: seconds since the first sample, CPU % (100 = one CPU), memory bytes."""

    seconds: float
    cpu_percent: float
    memory_bytes: int
    memory_limit_bytes: int


def read_stats(store: ObjectStore, key: str, max_points: int = 240) -> list[StatsPoint]:
    """The stored samples of a job, evenly thinned to at most ``max_points``; [] when there are none. Malformed
    rows (the file is the store's, a writer could have changed it) are skipped, never an error."""
    try:
        with store.open_read(key) as fh:
            data = fh.read(MAX_READ_BYTES)
    except StoreError:
        return []
    points: list[StatsPoint] = []
    start: datetime | None = None
    for line in data.decode("utf-8", "replace").splitlines()[1:]:
        parts = line.split("\t")
        try:
            at = datetime.fromisoformat(parts[0])
            cpu, memory, limit = float(parts[1]), int(parts[2]), int(parts[3])
        except (IndexError, ValueError):
            continue
        if not math.isfinite(cpu) or at.tzinfo is None:
            continue
        start = start or at
        points.append(StatsPoint(max((at - start).total_seconds(), 0.0), max(cpu, 0.0), max(memory, 0), limit))
    if len(points) <= max_points:
        return points
    step = len(points) / max_points
    return [points[int(i * step)] for i in range(max_points)]
