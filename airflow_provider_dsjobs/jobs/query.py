"""Choosing job records for a listing: by status and by name, newest first, one page at a time.

The Jobs page of the Airflow plugin, ``dsjobs ls`` and any other browser of run history use this through
``JobService.query_jobs``: ``page_jobs`` reads the job index newest first (``JobStore.iter_ids``) and loads only
the records it needs, so the first page costs one listing request and about a page of record reads however many
jobs the project ever ran. A status filter reads only the index of those statuses (``JobStore.iter_status_ids``:
the status keys of ended statuses such as ERROR, the active index for EXECUTING, ...), so its first page costs one
listing request per index read and about a page of record reads however far back the matches are. Each record
loaded is still checked (the index is a hint; the record decides). A text filter reads records until the page is
full: its cost grows with how far back the matches are. ``total`` is exact only when everything the query reads
was read (``JobPage.exact``); otherwise it counts what was read, which is at least one more than the page shows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from airflow_provider_dsjobs.documents.record import JobRecord, JobStatus
from airflow_provider_dsjobs.jobs.store import JobStore

#: The most records one page may hold.
MAX_PAGE = 500
#: The most records a filtered listing reads in one round.
_MAX_ROUND = 1000


@dataclass(frozen=True)
class JobQuery:
    """Which jobs to list. ``statuses`` empty: any status; ``text``: a case-insensitive part of the job's name
    or id; ``offset``/``limit`` pick one page of the newest-first listing."""

    statuses: frozenset[JobStatus] = field(default_factory=frozenset)
    text: str | None = None
    offset: int = 0
    limit: int = 50

    def __post_init__(self) -> None:
        if self.offset < 0:
            raise ValueError(f"offset must be zero or more, got {self.offset}")
        if not 1 <= self.limit <= MAX_PAGE:
            raise ValueError(f"limit must be between 1 and {MAX_PAGE}, got {self.limit}")

    def matches(self, record: JobRecord) -> bool:
        if self.statuses and record.status not in self.statuses:
            return False
        if self.text:
            needle = self.text.casefold()
            return needle in (record.name or "").casefold() or needle in record.id
        return True


@dataclass(frozen=True)
class JobPage:
    """One page of a listing and how many records matched in all (``exact``), or at least (not ``exact``: the
    listing stopped once it had one more than the page)."""

    jobs: list[JobRecord]
    total: int
    exact: bool = True


def select_jobs(records: Iterable[JobRecord], query: JobQuery) -> JobPage:
    """The page of ``records`` (already newest first) that ``query`` asks for."""
    matched = [r for r in records if query.matches(r)]
    return JobPage(jobs=matched[query.offset : query.offset + query.limit], total=len(matched))


def page_jobs(jobs: JobStore, query: JobQuery, visible: Callable[[JobRecord], bool] | None = None) -> JobPage:
    """The page ``query`` asks for, reading the index newest first and records only until the page (and one
    more, to know there is more) is found."""
    want = query.offset + query.limit + 1
    matched: list[JobRecord] = []
    step = want  # records read per round: doubled each round, so a sparse filter does not read far past its page
    if query.statuses:
        batches = jobs.iter_status_ids(query.statuses, first_page=want)
    else:
        batches = jobs.iter_ids(first_page=want)
    for batch in batches:
        while batch:
            ids, batch = batch[:step], batch[step:]
            step = min(step * 2, _MAX_ROUND)
            for record in jobs.load_many(ids):
                if query.matches(record) and (visible is None or visible(record)):
                    matched.append(record)
            if len(matched) >= want:
                return JobPage(jobs=matched[query.offset : query.offset + query.limit], total=len(matched), exact=False)
    return JobPage(jobs=matched[query.offset : query.offset + query.limit], total=len(matched), exact=True)


def parse_statuses(values: Iterable[str]) -> frozenset[JobStatus]:
    """Status names (any case, comma-separated values allowed) → statuses; an unknown one is a ``ValueError``
    naming the allowed values."""
    out: set[JobStatus] = set()
    for value in values:
        for name in value.split(","):
            name = name.strip().upper()
            if not name:
                continue
            try:
                out.add(JobStatus(name))
            except ValueError:
                allowed = ", ".join(s.value for s in JobStatus)
                raise ValueError(f"unknown job status {name!r} (allowed: {allowed})") from None
    return frozenset(out)
