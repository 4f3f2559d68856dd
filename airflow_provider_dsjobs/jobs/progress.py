"""A job reports its own progress with a line on stdout: ``dsjobs-progress: <percent> [message]``.

For example ``print("dsjobs-progress: 40 loading shards", flush=True)`` or, in a shell, ``echo
"dsjobs-progress: 75% training"``. The percent is a number from 0 to 100 (a trailing ``%`` is fine); the message
is optional. The line stays in the job's output, so it shows in the terminal and in the Airflow task log as it
is printed. While someone follows the job (``dsjobs execute``/``attach``, an Airflow task) the latest value is
kept in ``jobs/<id>/progress.json`` and ``dsjobs get`` shows it for a running job; when the job ends, the last
one is in the record (``progress``, ``progress_message``). Lines that look like a marker but are not valid are
ordinary output.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_dsjobs.documents.codec import decode, encode
from airflow_provider_dsjobs.storage.base import ObjectStore, StoreError

log = logging.getLogger(__name__)

MARKER = "dsjobs-progress:"
_LINE_RE = re.compile(r"dsjobs-progress:\s*(\d{1,3}(?:\.\d+)?)\s*%?(?:\s+(.*))?")
MESSAGE_LIMIT = 200


@dataclass(frozen=True)
class Progress:
    percent: float
    message: str = ""

    def describe(self) -> str:
        return f"{self.percent:g}%" + (f" {self.message}" if self.message else "")

    def to_doc(self) -> dict[str, Any]:
        return {"progress": self.percent, "message": self.message}

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Progress:
        return cls(float(doc["progress"]), str(doc.get("message") or ""))


def parse_progress(line: str) -> Progress | None:
    """The progress a stdout line reports, or None when it is not a valid marker."""
    if not line.startswith(MARKER):
        return None
    match = _LINE_RE.fullmatch(line.rstrip())
    if match is None:
        return None
    percent = float(match.group(1))
    if percent > 100:
        return None
    return Progress(percent, (match.group(2) or "").strip()[:MESSAGE_LIMIT])


class ProgressKeeper:
    """Keeps the latest marker a followed job printed in the store, so ``dsjobs get`` in another process sees it
    while the job runs: at most one write per ``min_interval`` seconds (a marker that arrives sooner is written
    when the interval is over), and on ``flush``."""

    def __init__(self, store: ObjectStore, key: str, min_interval: float = 2.0) -> None:
        self._store, self._key, self._min_interval = store, key, min_interval
        self.latest: Progress | None = None
        self._saved: Progress | None = None
        self._saved_at = 0.0
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def see(self, stream: str, line: str) -> None:
        if stream != "stdout":
            return
        found = parse_progress(line)
        if found is None:
            return
        self.latest = found
        wait = self._saved_at + self._min_interval - time.monotonic()
        if wait <= 0:
            self.flush()
        elif self._timer is None:
            self._timer = threading.Timer(wait, self.flush)
            self._timer.daemon = True
            self._timer.start()

    def flush(self) -> None:
        with self._lock:
            self._timer = None
            latest = self.latest
            if latest is None or latest == self._saved:
                return
            try:
                self._store.put_bytes(self._key, encode(latest.to_doc()))
            except StoreError as exc:
                log.warning("progress: cannot store %s: %s", self._store.uri(self._key), exc)
                return
            self._saved, self._saved_at = latest, time.monotonic()


def read_progress(store: ObjectStore, key: str) -> Progress | None:
    """The progress a follower stored, or None."""
    try:
        return Progress.from_doc(decode(store.get_bytes(key)))
    except (StoreError, ValueError, KeyError, TypeError):
        return None
