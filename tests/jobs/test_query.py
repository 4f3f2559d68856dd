"""JobQuery: filtering by status and by name or id, newest-first pages, and the status parser's errors."""

from __future__ import annotations

from datetime import timedelta

import pytest

from airflow_provider_dsjobs.documents.record import JobRecord, JobStatus, utcnow
from airflow_provider_dsjobs.jobs.query import JobQuery, parse_statuses, select_jobs

JOBS = [
    ("Train", JobStatus.EXECUTING),
    ("score", JobStatus.SUCCESS),
    ("train-2", JobStatus.ERROR),
    (None, JobStatus.SUCCESS),
]


def records() -> list[JobRecord]:
    """Four records, newest first (as ``JobStore.list`` returns them)."""
    now = utcnow()
    return [
        JobRecord(
            id=f"j2026010{i}-000000000-abcdefgh", project="p", name=name, status=status, created_at=now - timedelta(i)
        )
        for i, (name, status) in enumerate(JOBS)
    ]


def test_no_filter_is_every_job_in_order() -> None:
    page = select_jobs(records(), JobQuery())
    assert [r.name for r in page.jobs] == ["Train", "score", "train-2", None] and page.total == 4


def test_status_and_text_filters_combine() -> None:
    assert [r.name for r in select_jobs(records(), JobQuery(text="TRAIN")).jobs] == ["Train", "train-2"]
    query = JobQuery(statuses=frozenset({JobStatus.SUCCESS}), text="j20260103")
    assert [r.id for r in select_jobs(records(), query).jobs] == ["j20260103-000000000-abcdefgh"]
    assert select_jobs(records(), JobQuery(statuses=frozenset({JobStatus.CANCELLED}))).total == 0


def test_pages_cut_after_filtering() -> None:
    page = select_jobs(records(), JobQuery(statuses=frozenset({JobStatus.SUCCESS, JobStatus.ERROR}), offset=1, limit=1))
    assert [r.name for r in page.jobs] == ["train-2"] and page.total == 3


def test_parse_statuses() -> None:
    assert parse_statuses(["success,error", " Cancelled "]) == {JobStatus.SUCCESS, JobStatus.ERROR, JobStatus.CANCELLED}
    assert parse_statuses([""]) == frozenset()
    with pytest.raises(ValueError, match=r"unknown job status 'DONE' \(allowed: CREATING, .*CANCELLED\)"):
        parse_statuses(["done"])


@pytest.mark.parametrize(("offset", "limit"), [(-1, 10), (0, 0), (0, 501)])
def test_bad_pages_are_refused(offset: int, limit: int) -> None:
    with pytest.raises(ValueError):
        JobQuery(offset=offset, limit=limit)
