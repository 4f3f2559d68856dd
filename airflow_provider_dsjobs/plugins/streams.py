"""Streams the api-server serves without holding its shared worker threads: logs (followed or not) and downloads.

The api-server runs every synchronous handler, and every synchronous iterator a response streams, on one pool of
worker threads that the rest of Airflow (the REST API, the Execution API's task heartbeats) shares. A stream that
blocked there on a quiet socket would hold a thread for as long as its page stays open. So here:

- every blocking step (one bounded engine or store read) runs on this module's own small thread limiter, never the
  shared pool, and is abandoned after ``STEP_SECONDS``;
- a followed log is polled (a short non-following read of what is new, then ``await`` a pause), notices a client
  that left, and ends after ``follow_seconds()`` (the page reconnects);
- at most ``max_follows()`` follows are open per api-server process; one more is refused (429).

:func:`log_pairs` is the one place log lines come from (``(stream, line)`` pairs), so a filter (masking) can wrap it.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from functools import partial
from itertools import islice
from typing import TypeVar

import anyio
import anyio.to_thread
from starlette.requests import Request

from airflow_provider_dsjobs.documents.record import JobRecord
from airflow_provider_dsjobs.jobs.errors import JobError
from airflow_provider_dsjobs.jobs.service import JobService
from airflow_provider_dsjobs.runtime.log_stream import LogCursor

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_MAX_FOLLOWS = 16
DEFAULT_FOLLOW_SECONDS = 300.0
#: The longest one blocking read may take before the stream gives up on it (the read's own socket timeout ends it).
STEP_SECONDS = 30.0
#: Pause between two looks at a running job: the first after new output, growing to the second while it is quiet.
POLL_SECONDS = (0.5, 3.0)
#: Lines one look (or one read of a stored log) hands over at most.
BATCH_LINES = 2000
#: Threads this module's reads may use at once, whatever the number of streams (they queue for a token, awaiting).
READ_THREADS = 8


class StreamTimeout(JobError):
    """A read took longer than ``STEP_SECONDS``."""


def _setting(env: str, key: str, default: float) -> float:
    """``env`` (``DSJOBS_*``), else ``[dsjobs] key`` of Airflow's config, else ``default``; a bad value is logged
    in one line and the default used."""
    raw = os.environ.get(env)
    where = env
    if raw is None:
        try:
            from airflow.configuration import conf

            raw = conf.get("dsjobs", key, fallback=None)
            where = f"[dsjobs] {key}"
        except Exception:  # outside Airflow: the default
            raw = None
    if raw is None or not str(raw).strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not (math.isfinite(value) and value >= 1):
        log.warning("%s=%r is not a number of at least 1; using %g", where, raw, default)
        return default
    return value


def max_follows() -> int:
    """``DSJOBS_MAX_LOG_FOLLOWS`` / ``[dsjobs] max_log_follows``: live log streams one api-server process serves."""
    return int(_setting("DSJOBS_MAX_LOG_FOLLOWS", "max_log_follows", DEFAULT_MAX_FOLLOWS))


def follow_seconds() -> float:
    """``DSJOBS_LOG_FOLLOW_SECONDS`` / ``[dsjobs] log_follow_seconds``: how long one follow stream lasts."""
    return _setting("DSJOBS_LOG_FOLLOW_SECONDS", "log_follow_seconds", DEFAULT_FOLLOW_SECONDS)


class FollowSlots:
    """A per-process count of open follow streams, capped; a slot is given back once, however the stream ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.open = 0

    def take(self, cap: int) -> Callable[[], None] | None:
        """A release function, or None when ``cap`` streams are open."""
        with self._lock:
            if self.open >= cap:
                return None
            self.open += 1
        released = threading.Event()

        def release() -> None:
            with self._lock:
                if not released.is_set():
                    released.set()
                    self.open -= 1

        return release


SLOTS = FollowSlots()
_limiter: anyio.CapacityLimiter | None = None


def _reads() -> anyio.CapacityLimiter:
    global _limiter
    if _limiter is None:
        _limiter = anyio.CapacityLimiter(READ_THREADS)
    return _limiter


async def off_pool(func: Callable[[], T]) -> T:
    """``func()`` on this module's threads; ``StreamTimeout`` after ``STEP_SECONDS`` (the thread is abandoned: its
    own read timeout ends it)."""
    with anyio.move_on_after(STEP_SECONDS) as scope:
        return await anyio.to_thread.run_sync(func, abandon_on_cancel=True, limiter=_reads())
    assert scope.cancelled_caught
    raise StreamTimeout(f"the job store or the Docker engine did not answer within {STEP_SECONDS:g} s")


async def bounded(items: Iterator[T], batch: int = 1) -> AsyncIterator[T]:
    """The items of a blocking iterator, ``batch`` at a time, each step through :func:`off_pool`."""
    while True:
        chunk = await off_pool(partial(lambda n: list(islice(items, n)), batch))
        for item in chunk:
            yield item
        if len(chunk) < batch:
            return


def hold(stream: AsyncIterator[T], release: Callable[[], None]) -> AsyncIterator[T]:
    """``stream`` that gives its follow slot back when it ends, is closed, or is dropped without ever starting."""

    async def held() -> AsyncIterator[T]:
        try:
            async for item in stream:
                yield item
        finally:
            release()

    wrapped = held()
    weakref.finalize(wrapped, release)
    return wrapped


async def log_pairs(
    service: JobService, record: JobRecord, request: Request, *, tail: int | None, follow: bool
) -> AsyncIterator[tuple[str, str]]:
    """The job's log as ``(stream, line)`` pairs: a running job's followed live (polled), else what the engine or
    the store has (the last ``tail`` lines when given)."""
    if follow and not record.status.terminal and record.container_id:
        async for pair in _follow(service, record, request, tail):
            yield pair
        return
    pairs = await off_pool(lambda: service.logs(record.id, tail=tail))
    async for pair in bounded(pairs, BATCH_LINES):
        yield pair


async def _follow(
    service: JobService, record: JobRecord, request: Request, tail: int | None
) -> AsyncIterator[tuple[str, str]]:
    """Polls the running container until it stops, the client leaves or ``follow_seconds()`` pass. The first
    looks read what was logged so far (only the last ``tail`` lines are passed on)."""
    cursor = LogCursor()
    ends = time.monotonic() + follow_seconds()
    backlog: deque[tuple[str, str]] | None = deque(maxlen=tail) if tail else None
    pause = POLL_SECONDS[0]
    while not await request.is_disconnected():
        batch = BATCH_LINES if backlog is None else max(BATCH_LINES, tail or 0)  # the backlog in few reads
        lines, running = await off_pool(partial(service.read_new_logs, record, cursor, batch))
        caught_up = len(lines) < batch
        if backlog is not None:
            backlog.extend(lines)
            if not caught_up:
                continue
            lines, backlog = list(backlog), None
        for pair in lines:
            yield pair
        if caught_up and (not running or time.monotonic() > ends):
            return
        if caught_up:
            pause = POLL_SECONDS[0] if lines else min(pause * 1.5, POLL_SECONDS[1])
            await anyio.sleep(pause)
