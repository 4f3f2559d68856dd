"""Progress of uploads and downloads: a redrawn bar on a terminal, plain lines otherwise (logs, CI, Airflow).

Usage::

    progress = TransferProgress("upload")          # or "download"
    progress.start(files=3, total_bytes=12_582_912)  # "uploading 3 files (12.0 MiB)…"
    store.put_file(key, path, progress.update)       # called from transfer threads with byte counts
    progress.finish()                                # "uploaded 12.0 MiB in 1.2 s"
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

from airflow_provider_dsjobs.documents.sizes import human_size

_VERBS = {"upload": ("uploading", "uploaded"), "download": ("downloading", "downloaded")}
_BAR_WIDTH = 30
_REDRAW_INTERVAL = 0.1


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


class TransferProgress:
    """Reports one batch of transfers. ``update`` is thread-safe (boto3 calls it from its worker threads)."""

    def __init__(self, direction: str = "upload", stream: TextIO | None = None, *, tty: bool | None = None) -> None:
        if direction not in _VERBS:
            raise ValueError(f"direction must be one of {sorted(_VERBS)}")
        self._doing, self._done = _VERBS[direction]
        self._stream = stream if stream is not None else sys.stderr
        if tty is None:
            isatty = getattr(self._stream, "isatty", None)
            tty = bool(isatty and isatty())
        self._tty = tty
        self._lock = threading.Lock()
        self._total = 0
        self._files = 0
        self._transferred = 0
        self._started = 0.0
        self._last_draw = 0.0

    @property
    def transferred(self) -> int:
        return self._transferred

    def _write(self, text: str) -> None:
        self._stream.write(text)
        self._stream.flush()

    def start(self, files: int, total_bytes: int) -> None:
        with self._lock:
            self._files, self._total, self._transferred = files, total_bytes, 0
            self._started = time.monotonic()
        if files == 0:
            self._write(f"no files to {self._doing[:-3]}\n")
        elif self._tty:
            self._draw(force=True)
        else:
            self._write(f"{self._doing} {_plural(files, 'file')} ({human_size(total_bytes)})…\n")

    def update(self, n: int) -> None:
        """Count ``n`` more bytes (a ``ProgressCallback``)."""
        with self._lock:
            self._transferred += n
            if self._tty:
                self._draw()

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_draw < _REDRAW_INTERVAL:
            return
        self._last_draw = now
        fraction = min(1.0, self._transferred / self._total) if self._total else 1.0
        filled = int(fraction * _BAR_WIDTH)
        bar = "#" * filled + "-" * (_BAR_WIDTH - filled)
        self._write(
            f"\r{self._doing} [{bar}] {fraction * 100:5.1f}% {human_size(self._transferred)}/{human_size(self._total)}"
        )

    def finish(self) -> None:
        if self._files == 0:
            return
        elapsed = time.monotonic() - self._started
        with self._lock:
            if self._tty:
                self._draw(force=True)
                self._write("\n")
            self._write(f"{self._done} {human_size(self._transferred)} in {elapsed:.1f} s\n")
