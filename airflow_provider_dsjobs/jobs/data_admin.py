"""A project's job data over time: the data TTL, clearing a job's data, and ``gc`` (finish the jobs nobody follows,
then delete expired data and unused cached inputs, ``jobs/gc.py``)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from datetime import timedelta

from airflow_provider_dsjobs.documents.record import JobRecord, JobStatus, utcnow
from airflow_provider_dsjobs.jobs.cache_gc import engine_caches_into
from airflow_provider_dsjobs.jobs.context import JobContext
from airflow_provider_dsjobs.jobs.errors import JobError, into_job_error
from airflow_provider_dsjobs.jobs.gc import CLEAR_GRACE, GcReport, clear_job, collect_garbage
from airflow_provider_dsjobs.jobs.query import MAX_PAGE, JobPage, JobQuery
from airflow_provider_dsjobs.jobs.reader import check_data
from airflow_provider_dsjobs.jobs.s3_lazy_mounts import collect_lazy_mounts
from airflow_provider_dsjobs.runtime.errors import RuntimeFailure


class JobData:
    """Keeps and deletes the job data of ``ctx``'s project. ``get`` brings a job up to date (finalizing it when its
    container exited: the runner's), ``query`` reads a page of jobs (the reader's)."""

    def __init__(self, ctx: JobContext, get: Callable[[str], JobRecord], query: Callable[[JobQuery], JobPage]) -> None:
        self.ctx = ctx
        self._get = get
        self._query = query

    def set_data_ttl(self, job_id: str, days: int | None) -> JobRecord:
        if days is not None and days < 1:
            raise JobError("TTL days should be positive")
        check_data(self.ctx.load(job_id), "cannot change the data TTL: ")
        when = None if days is None else utcnow() + timedelta(days=days)

        def change(record: JobRecord) -> JobRecord:
            check_data(record, "cannot change the data TTL: ")  # cleared or expired meanwhile
            record.data_expires_at = when
            return record

        return self.ctx.update(job_id, change)

    def gc(self, *, dry_run: bool = False) -> GcReport:
        settled = [] if dry_run else self.settle_exited()
        with into_job_error():
            report = collect_garbage(self.ctx.jobs, dry_run=dry_run)
        report.jobs_settled = settled
        ctx = self.ctx
        engine_caches_into(report, lambda: ctx.runtime, ctx.ownership.mine, ctx.store, ctx.settings, dry_run=dry_run)
        with suppress(RuntimeFailure, JobError):  # an engine out of reach: the next gc looks again
            report.lazy_mounts_removed = collect_lazy_mounts(ctx.runtime, ctx.jobs, ctx.settings, dry_run=dry_run)
        return report

    def settle_exited(self, max_jobs: int = 5 * MAX_PAGE) -> list[str]:
        ended = []
        for job_id in self._active_ids(max_jobs):
            try:
                if self._get(job_id).status.terminal:
                    ended.append(job_id)
            except JobError:  # its engine is out of reach, or the store hiccuped: the next run tries again
                continue
        return ended

    def _active_ids(self, max_jobs: int) -> list[str]:
        """Up to about ``max_jobs`` ids of active jobs (read through the active index, a page at a time)."""
        active = frozenset(s for s in JobStatus if not s.terminal)
        ids: list[str] = []
        while len(ids) < max_jobs:
            page = self._query(JobQuery(statuses=active, offset=len(ids), limit=MAX_PAGE))
            ids += [r.id for r in page.jobs]
            if len(page.jobs) < MAX_PAGE:
                break
        return ids

    def clear(self, job_id: str) -> GcReport:
        record = self.ctx.load(job_id)
        if not record.status.terminal:
            raise JobError(f"job {job_id} is still running ({record.status.value}): cancel it before clearing its data")
        if record.data_cleared:
            return GcReport()
        with into_job_error():
            return clear_job(self.ctx.jobs, record)

    def clear_all(self) -> GcReport:
        with into_job_error():
            return collect_garbage(self.ctx.jobs, grace=CLEAR_GRACE)
