"""Reading jobs, read-only: records (``read``, ``find``, ``list_jobs``, ``query_jobs``), logs, progress, stats,
output files and downloads, a running container's state and new output. Nothing here finalizes or saves a job."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import suppress
from itertools import islice
from pathlib import Path
from typing import BinaryIO, TextIO

from airflow_provider_dsjobs.documents.record import JobRecord
from airflow_provider_dsjobs.jobs import logs as joblogs
from airflow_provider_dsjobs.jobs.context import JobContext
from airflow_provider_dsjobs.jobs.downloads import download_files
from airflow_provider_dsjobs.jobs.errors import EngineElsewhere, JobError, into_job_error, iter_into_job_error
from airflow_provider_dsjobs.jobs.output_files import OutputFile, list_output_files, open_output_file
from airflow_provider_dsjobs.jobs.progress import Progress, read_progress
from airflow_provider_dsjobs.jobs.query import JobPage, JobQuery, page_jobs
from airflow_provider_dsjobs.jobs.stats import STATS_FILE, StatsPoint, read_stats
from airflow_provider_dsjobs.resources.datasets import read_dataset_manifest
from airflow_provider_dsjobs.runtime.containers import ContainerState
from airflow_provider_dsjobs.runtime.errors import ContainerNotFound, RuntimeFailure
from airflow_provider_dsjobs.runtime.labels import LABEL_JOB_ID, LABEL_PROJECT
from airflow_provider_dsjobs.runtime.log_stream import LogCursor
from airflow_provider_dsjobs.storage.base import StoreError


def check_data(record: JobRecord, what: str = "") -> None:
    """``JobError`` saying why a job's data cannot be read (cleared, or past its TTL even before gc ran)."""
    reason = record.data_unavailable()
    if reason is not None:
        raise JobError(f"{what}{reason}")


class JobReader:
    """Reads the jobs of ``ctx``'s project."""

    def __init__(self, ctx: JobContext) -> None:
        self.ctx = ctx

    def find(self, labels: Mapping[str, str]) -> JobRecord | None:
        want = {str(k): str(v) for k, v in labels.items()}
        # A live container is the cheap answer (one engine query); else (no engine, no container, or a container
        # whose record is gone) the label index: only jobs carrying the rarest wanted label are read.
        with suppress(JobError, RuntimeFailure):
            for container in self.ctx.runtime.find({**want, LABEL_PROJECT: self.ctx.project}):
                job_id = container.labels.get(LABEL_JOB_ID)
                if job_id:
                    return self.ctx.load(job_id)
        with into_job_error():
            return self.ctx.jobs.find_by_labels(want)

    def list_jobs(self) -> list[JobRecord]:
        with into_job_error():
            records = list(self.ctx.jobs.list())
        return sorted(records, key=lambda r: r.created_at, reverse=True)

    def query_jobs(self, query: JobQuery, visible: Callable[[JobRecord], bool] | None = None) -> JobPage:
        with into_job_error():
            return page_jobs(self.ctx.jobs, query, visible)

    # -- logs ----------------------------------------------------------------------------------------------------

    def logs(self, job_id: str, *, tail: int | None = None, follow: bool = False) -> Iterator[tuple[str, str]]:
        record = self.ctx.load(job_id)
        check_data(record)
        return joblogs.tail(iter_into_job_error(self._log_pairs(record, follow)), tail)

    def _log_pairs(self, record: JobRecord, follow: bool = False) -> Iterator[tuple[str, str]]:
        if not record.status.terminal and record.container_id:
            try:
                runtime = self.ctx.runtime_of(record)
            except EngineElsewhere:  # its engine is out of reach: what is stored (nothing before it ends)
                pass
            else:
                try:
                    yield from runtime.stream_logs(record.container_id, follow=follow)
                    return
                except ContainerNotFound:  # finalized meanwhile: read what was stored
                    record = self.ctx.load(record.id)
        if record.logs:
            yield from joblogs.read_combined(self.ctx.store, self.ctx.jobs.log_key(record.id, joblogs.COMBINED_FILE))

    def read_new_logs(self, record: JobRecord, cursor: LogCursor, limit: int) -> tuple[list[tuple[str, str]], bool]:
        container_id = record.container_id or ""
        runtime = self.ctx.runtime
        lines: list[tuple[str, str]] = []
        with into_job_error(RuntimeFailure):
            try:
                pairs = runtime.stream_logs(container_id, follow=False, cursor=cursor)
                try:
                    lines.extend(islice(pairs, limit))
                finally:
                    close = getattr(pairs, "close", None)
                    if callable(close):
                        close()  # a read stopped at ``limit``: its engine response is closed now
            except ContainerNotFound:
                return lines, False  # finalized and removed meanwhile: the stored log has it all
            state = runtime.state(container_id)
        return lines, state is not None and not state.finished

    def container_state(self, record: JobRecord) -> ContainerState | None:
        if record.status.terminal or not record.container_id:
            return None
        with into_job_error(RuntimeFailure):
            return self.ctx.runtime.state(record.container_id)

    # -- progress, stats, outputs --------------------------------------------------------------------------------

    def progress_of(self, record: JobRecord) -> Progress | None:
        if not record.status.terminal:
            live = read_progress(self.ctx.store, self.ctx.jobs.progress_key(record.id))
            if live is not None:
                return live
        return Progress(record.progress, record.progress_message or "") if record.progress is not None else None

    def stats_points(self, job_id: str, max_points: int = 240) -> list[StatsPoint]:
        return read_stats(self.ctx.store, self.ctx.jobs.log_key(job_id, STATS_FILE), max_points)

    def output_datasets(self, record: JobRecord) -> list[tuple[str, str, int | None]]:
        found: list[tuple[str, str, int | None]] = []
        for name, ds_id in record.output_datasets.items():
            try:
                manifest = read_dataset_manifest(self.ctx.jobs, ds_id)
            except StoreError:
                manifest = None
            found.append((ds_id, name, manifest.size if manifest is not None else None))
        return found

    def output_files(self, job_id: str) -> list[OutputFile]:
        record = self.ctx.load(job_id)
        with into_job_error():
            return list_output_files(self.ctx.jobs, record)

    def open_output(self, job_id: str, path: str) -> tuple[OutputFile, BinaryIO]:
        record = self.ctx.load(job_id)
        check_data(record)
        with into_job_error():
            return open_output_file(self.ctx.jobs, record, path)

    def download_files(
        self, job_id: str, output_dir: Path | None, with_logs: bool, progress_stream: TextIO | None
    ) -> list[Path]:
        record = self.ctx.load(job_id)
        check_data(record, "nothing to download: ")
        doc = self.ctx.plan_doc(job_id)
        return download_files(
            self.ctx.jobs, record, doc, output_dir=output_dir, with_logs=with_logs, progress_stream=progress_stream
        )
