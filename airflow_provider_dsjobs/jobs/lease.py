"""The launch lease: how others tell a job still being launched from one whose launcher died.

Between its record being written (CREATING) and its container starting (EXECUTING), a job exists only in the
process that submits it: staging inputs can take minutes. If that process dies (an Airflow worker killed, a
laptop closed), nothing would ever move the job on, and a retry that re-attaches to it would wait forever.

So the submitting process keeps ``jobs/<id>/launch-lease.json`` (``JobStore.lease_key``) fresh (every
:data:`HEARTBEAT_S` seconds, from a daemon thread) until the launch ends. A job not yet started whose lease is older
than :data:`STALE_AFTER_S` (or which never got one, and was created that long ago) has been abandoned: whoever
notices — ``wait``, ``refresh``, ``finalize``, a re-attaching retry — ends it ERROR with the time its launcher was
last seen and removes its container. A launcher that was only slow finds the ERROR before it starts the container,
and stops.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from datetime import datetime, timezone

from airflow_provider_dsjobs.documents.codec import decode, encode
from airflow_provider_dsjobs.documents.markers import LaunchHeartbeat
from airflow_provider_dsjobs.documents.record import JobRecord
from airflow_provider_dsjobs.jobs.store import JobStore

log = logging.getLogger(__name__)

#: How often the launcher refreshes its lease.
HEARTBEAT_S = 10.0
#: A lease older than this means the launcher is gone (several missed beats, so a slow store is not a death).
STALE_AFTER_S = 60.0


class LaunchLease:
    """Refreshes a job's lease from a daemon thread while the launch runs (a context manager)."""

    def __init__(self, jobs: JobStore, job_id: str, heartbeat_s: float = HEARTBEAT_S) -> None:
        self._jobs = jobs
        self._key = jobs.lease_key(job_id)
        self._heartbeat_s = heartbeat_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._host, self._pid = socket.gethostname(), os.getpid()

    def beat(self) -> None:
        """Write the lease now (errors are logged and ignored: a missed beat is not a failed launch)."""
        body = encode(LaunchHeartbeat(self._host, self._pid, time.time()).to_doc())
        try:
            self._jobs.store.put_bytes(self._key, body)
        except Exception as exc:
            log.debug("launch lease %s not written: %s", self._key, exc)

    def __enter__(self) -> LaunchLease:
        self.beat()
        self._thread = threading.Thread(target=self._run, name="dsjobs-launch-lease", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self._heartbeat_s + 5)

    def _run(self) -> None:
        while not self._stop.wait(self._heartbeat_s):
            self.beat()


def last_seen(jobs: JobStore, record: JobRecord) -> float:
    """When the job's launcher was last known alive (epoch seconds): its lease, else the record's creation."""
    try:
        return LaunchHeartbeat.from_doc(decode(jobs.store.get_bytes(jobs.lease_key(record.id)))).heartbeat_at
    except Exception:
        created = record.created_at
        return created.timestamp() if created is not None else 0.0


def abandoned_reason(jobs: JobStore, record: JobRecord, now: float | None = None) -> str | None:
    """Why a job that has not started is abandoned (its launcher gone), or ``None`` while the launch may
    still be under way."""
    seen = last_seen(jobs, record)
    if (time.time() if now is None else now) - seen <= STALE_AFTER_S:
        return None
    at = datetime.fromtimestamp(seen, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"the process launching the job stopped before the job started (last seen {at})"
