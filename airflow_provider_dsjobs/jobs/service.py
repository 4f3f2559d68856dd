"""The job service: one run of a config, end to end (DESIGN.md "One run, end to end").

This is the only API the CLI and the Airflow layer use to run, watch, cancel and inspect jobs.
Every method is safe to call from any process that has the same ``Settings``: state lives in the job
record in the store and in the container's labels on the engine, never in this object.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from airflow_provider_dsjobs.config.model import JobConfig
from airflow_provider_dsjobs.jobs.record import JobRecord
from airflow_provider_dsjobs.settings import Settings

#: Receives the job's output line by line: ``(stream, line)`` with stream ``"stdout"`` or ``"stderr"``.
LogSink = Callable[[str, str], None]


class JobError(Exception):
    """A job could not be created, run or inspected. The message is one line a user can act on."""


@dataclass
class GcReport:
    jobs_cleared: list[str] = field(default_factory=list)
    blobs_deleted: int = 0
    bytes_freed: int = 0


class JobService:
    """Runs configs as Docker containers with inputs and outputs staged through the store."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def submit(
        self,
        config: JobConfig,
        *,
        labels: Mapping[str, str] | None = None,
        log: LogSink | None = None,
    ) -> JobRecord:
        """Plan, stage inputs in, create and start the container. Returns as soon as the job runs
        (status EXECUTING); the record is already in the store, so ``record.id`` can be persisted.
        ``labels`` are added to the container and the record (the Airflow layer passes dag/task/run ids)."""
        raise NotImplementedError

    def refresh(self, job_id: str) -> JobRecord:
        """The record with its status brought up to date from the engine, without staging out.
        A job whose container has exited but is not finalized is reported as UPLOADING_OUTPUT."""
        raise NotImplementedError

    def wait(self, job_id: str, *, log: LogSink | None = None, poll_interval: float = 1.0) -> JobRecord:
        """Stream the job's output to ``log`` while it runs, then finalize; returns the terminal record."""
        raise NotImplementedError

    def finalize(self, job_id: str) -> JobRecord:
        """Stage outputs out, publish output datasets, write the manifest last, set the terminal status,
        remove the container. Idempotent: on a terminal job it changes nothing."""
        raise NotImplementedError

    def get(self, job_id: str) -> JobRecord:
        """The record; a job whose container has exited is finalized first."""
        raise NotImplementedError

    def find(self, labels: Mapping[str, str]) -> JobRecord | None:
        """The newest job whose labels include ``labels`` (re-attaching after a worker crash)."""
        raise NotImplementedError

    def list_jobs(self) -> list[JobRecord]:
        raise NotImplementedError

    def cancel(self, job_id: str, *, graceful: bool = True) -> JobRecord:
        """Cancel: with ``graceful`` and a ``graceful-shutdown`` section, send its signal and wait its timeout
        before killing; otherwise kill at once. The status ends CANCELLED and the container is removed."""
        raise NotImplementedError

    def logs(self, job_id: str, *, tail: int | None = None) -> Iterator[tuple[str, str]]:
        """The job's output as ``(stream, line)`` pairs: live from the engine while it runs, from the store after."""
        raise NotImplementedError

    def set_data_ttl(self, job_id: str, days: int | None) -> JobRecord:
        """Keep the job's data ``days`` more days from now; ``None`` keeps it forever."""
        raise NotImplementedError

    def download_files(self, job_id: str, *, output_dir: Path | None = None, with_logs: bool = False) -> list[Path]:
        """Bring outputs (and logs) to their local paths, or flattened into ``output_dir``."""
        raise NotImplementedError

    def gc(self) -> GcReport:
        """Delete expired job data and blobs no live job references."""
        raise NotImplementedError
