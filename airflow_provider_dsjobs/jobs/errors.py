"""The job layer's one error type, and how any lower-level failure becomes its one-line message.

``JobError`` is what the CLI and the Airflow layer catch: its message is a single line a user can act on.
It is re-exported from ``jobs/service.py``, where callers have always imported it from.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from airflow_provider_dsjobs.runtime.errors import EngineUnreachable, RuntimeFailure
from airflow_provider_dsjobs.storage.base import StoreError

T = TypeVar("T")


class JobError(Exception):
    """A job could not be created, run or inspected. The message is one line a user can act on."""


class InfrastructureError(JobError):
    """The store or the Docker engine failed (unreachable, refused, broke off): retrying may help."""


class JobConfigError(JobError):
    """The config cannot be run as given (a missing input, env var, secret or s3-mount): retrying cannot help."""


class EngineElsewhere(InfrastructureError):
    """The job runs on another engine that this reader cannot reach (``jobs/ownership.py``): nothing about it was
    decided or changed here. The message starts ``job ID is running on engine NAME (not reachable from here)``."""


class EngineLost(InfrastructureError):
    """The Docker engine stopped answering: what a job's container does is unknown until the engine is back
    (then ``JobService.get`` or ``wait`` settles it). The message says which engine and why."""


def one_line(exc: BaseException) -> str:
    """``exc``'s message on one line (whitespace collapsed), or its type name when it has none."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


@contextmanager
def into_job_error(*kinds: type[Exception]) -> Iterator[None]:
    """Inside the block, an exception of ``kinds`` (by default ``StoreError``) becomes a one-line
    ``InfrastructureError``."""
    caught = kinds or (StoreError,)
    try:
        yield
    except caught as exc:
        if isinstance(exc, EngineUnreachable):
            raise EngineLost(one_line(exc)) from None
        raise InfrastructureError(one_line(exc)) from None


def iter_into_job_error(items: Iterable[T]) -> Iterator[T]:
    """``items``, with store and engine errors met while iterating re-raised as ``JobError``."""
    with into_job_error(StoreError, RuntimeFailure):
        yield from items
