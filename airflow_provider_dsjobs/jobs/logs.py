"""Log capture: a job's output spooled to disk, stored next to the job, read back line by line.

Three objects at the job's ``JobStore.log_key`` keys (under ``logs/``):

- ``stdout.txt`` and ``stderr.txt``: the program's raw streams, one line per line;
- ``log.txt``: both interleaved in arrival order with ``[OUT] ``/``[ERR] `` prefixes, plus ``[SYS] `` lines the
  service adds (missing outputs, the exit code, why a job failed). ``record.logs`` is its URI.

Memory stays bounded whatever the log size: lines go to temporary files and are uploaded with ``put_file``;
reading streams the stored object line by line; ``tail`` keeps only the last N lines.
"""

from __future__ import annotations

import io
import shutil
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TextIO

from airflow_provider_dsjobs.jobs.progress import Progress, parse_progress
from airflow_provider_dsjobs.storage.base import ObjectStore

STDOUT = "stdout"
STDERR = "stderr"
SYSTEM = "system"

STDOUT_FILE = "stdout.txt"
STDERR_FILE = "stderr.txt"
COMBINED_FILE = "log.txt"

_PREFIX = {STDOUT: "[OUT] ", STDERR: "[ERR] ", SYSTEM: "[SYS] "}
_STREAM_OF_PREFIX = {"[OUT] ": STDOUT, "[ERR] ": STDERR, "[SYS] ": SYSTEM}


def _clean(line: str) -> str:
    return line.rstrip("\r\n")


class LogSpool:
    """Collects ``(stream, line)`` pairs into files in a private temporary directory."""

    def __init__(self, mask: Callable[[str], str] | None = None) -> None:
        #: Applied to every line before it is written (``jobs/log_masking.py``).
        self._mask = mask
        self._dir = Path(tempfile.mkdtemp(prefix="dsjobs-logs-"))
        self._files: dict[str, TextIO] = {
            name: open(self._dir / name, "w", encoding="utf-8", errors="replace", newline="\n")  # noqa: SIM115
            for name in (STDOUT_FILE, STDERR_FILE, COMBINED_FILE)
        }
        self.lines = 0
        #: The last progress marker on stdout (``jobs/progress.py``).
        self.progress: Progress | None = None

    def write(self, stream: str, line: str) -> None:
        text = _clean(line)
        if self._mask is not None:
            text = self._mask(text)
        if stream == STDOUT:
            self.progress = parse_progress(text) or self.progress
            self._files[STDOUT_FILE].write(text + "\n")
        elif stream == STDERR:
            self._files[STDERR_FILE].write(text + "\n")
        self._files[COMBINED_FILE].write(_PREFIX.get(stream, "[SYS] ") + text + "\n")
        self.lines += 1

    def upload(self, store: ObjectStore, key_of: Callable[[str], str]) -> str:
        """Store the three files, each at ``key_of(name)`` (``JobStore.log_key``); returns the key of ``log.txt``."""
        for fh in self._files.values():
            fh.flush()
        for name in (STDOUT_FILE, STDERR_FILE, COMBINED_FILE):
            store.put_file(key_of(name), self._dir / name)
        return key_of(COMBINED_FILE)

    def close(self) -> None:
        for fh in self._files.values():
            fh.close()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> LogSpool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_combined(store: ObjectStore, key: str) -> Iterator[tuple[str, str]]:
    """The stored ``log.txt`` as ``(stream, line)`` pairs; ``[SYS]`` lines come back as stream ``"system"``."""
    raw = store.open_read(key)
    try:
        with io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="\n") as text:
            for line in text:
                line = _clean(line)
                head = line[:6]
                stream = _STREAM_OF_PREFIX.get(head)
                if stream is None:
                    yield SYSTEM, line
                else:
                    yield stream, line[6:]
    finally:
        raw.close()


def tail(pairs: Iterable[tuple[str, str]], n: int | None) -> Iterator[tuple[str, str]]:
    """All pairs, or only the last ``n`` (keeping just ``n`` in memory)."""
    if n is None:
        yield from pairs
        return
    yield from deque(pairs, maxlen=n)
