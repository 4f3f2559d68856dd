"""Listing jobs a page at a time from the job index (``JobStore.iter_ids``, ``query.page_jobs``) and finding one
by labels (``JobStore.find_by_labels``) without reading every record; the index rebuilt when it is missing."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest

from airflow_provider_dsjobs.documents.codec import decode
from airflow_provider_dsjobs.documents.markers import IndexMarker
from airflow_provider_dsjobs.documents.record import JobRecord, JobStatus, utcnow
from airflow_provider_dsjobs.jobs.query import JobQuery, page_jobs, select_jobs
from airflow_provider_dsjobs.jobs.store import INDEX_VERSION, JobStore, encode_record, id_of_index_name, index_name
from airflow_provider_dsjobs.storage.base import ObjectStore, PreconditionFailed, StoreError
from airflow_provider_dsjobs.storage.local import LocalStore
from airflow_provider_dsjobs.storage.s3 import S3Store
from tests.storage.stores import local_store, s3_store, store

__all__ = ["local_store", "s3_store", "store"]


class Counting:
    """Counts the job records a listing reads and the listing requests it makes (the store itself is real; only
    ``get_with_version`` and the listing methods are wrapped)."""

    def __init__(self, store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.reads: list[str] = []
        self.listings: list[str] = []
        self._inside = 0
        real = store.get_with_version

        def get_with_version(key: str) -> tuple[bytes, str]:
            if key.endswith("/record.json"):
                self.reads.append(key)
            return real(key)  # type: ignore[no-any-return]

        monkeypatch.setattr(store, "get_with_version", get_with_version)
        for name in ("list", "list_keys", "list_children"):
            self._count(store, name, monkeypatch)

    def _count(self, store: Any, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
        real = getattr(store, name)

        def listing(prefix: str, *args: Any, **kwargs: Any) -> Any:
            if not self._inside:  # one listing method calling another (the local store's) is one listing
                self.listings.append(prefix)
            self._inside += 1
            try:
                return real(prefix, *args, **kwargs)
            finally:
                self._inside -= 1

        monkeypatch.setattr(store, name, listing)


def _jobs(jobs: JobStore, n: int, **kwargs: Any) -> list[JobRecord]:
    made = []
    for i in range(n):
        record = JobRecord(id=jobs.new_job_id(), project=jobs.project, name=f"job{i}", **kwargs)
        jobs.create(record)
        made.append(record)
    return made


def test_index_names_sort_newest_first_and_give_the_id_back() -> None:
    now = utcnow()
    older = JobRecord(id="handmade", project="p", created_at=now - timedelta(seconds=1))
    newer = JobRecord(id="alsohandmade", project="p", created_at=now)
    timed = [JobRecord(id=JobStore.new_job_id(), project="p") for _ in range(3)]
    names = [index_name(r) for r in (older, newer, *timed)]
    assert sorted(names) == [names[4], names[3], names[2], names[1], names[0]]
    assert [id_of_index_name(n) for n in names] == ["handmade", "alsohandmade", *(r.id for r in timed)]
    assert id_of_index_name("0000000000000-../../etc") is None  # a stray key names no job


def test_the_first_page_reads_only_its_records(store: ObjectStore, monkeypatch: pytest.MonkeyPatch) -> None:
    jobs = JobStore(store, "proj")
    made = _jobs(jobs, 30)
    counting = Counting(store, monkeypatch)
    page = page_jobs(JobStore(store, "proj"), JobQuery(limit=5))
    assert [r.id for r in page.jobs] == [r.id for r in reversed(made)][:5]
    assert (page.total, page.exact) == (6, False)  # at least one more than the page
    assert len(counting.reads) == 6  # the page and one more, not 30
    second = page_jobs(jobs, JobQuery(offset=5, limit=5))
    assert [r.id for r in second.jobs] == [r.id for r in reversed(made)][5:10]


def test_listing_a_project_writes_nothing(store: ObjectStore) -> None:
    jobs = JobStore(store, "proj")
    _jobs(jobs, 3)  # the first job of a new project built its (empty) index
    before = {i.key: i.size for i in store.list("")}
    assert len(page_jobs(JobStore(store, "proj"), JobQuery()).jobs) == 3
    assert JobStore(store, "proj").find_by_labels({"no": "such"}) is None
    assert {i.key: i.size for i in store.list("")} == before


def test_filters_page_and_count_exactly_once_everything_was_read(store: ObjectStore) -> None:
    jobs = JobStore(store, "proj")
    made = _jobs(jobs, 12)
    for r in made[::3]:
        jobs.update(r.id, lambda c: (c.set_status(JobStatus.ERROR, "x"), c)[1])
    errors = page_jobs(jobs, JobQuery(statuses=frozenset({JobStatus.ERROR}), limit=50))
    assert [r.id for r in errors.jobs] == [r.id for r in reversed(made[::3])]
    assert (errors.total, errors.exact) == (4, True)
    named = page_jobs(jobs, JobQuery(text="JOB1", limit=2))  # job1, job10, job11: name matches any case
    assert [r.name for r in named.jobs] == ["job11", "job10"] and not named.exact
    hidden = page_jobs(jobs, JobQuery(limit=50), visible=lambda r: r.name != "job5")
    assert hidden.total == 11 and "job5" not in [r.name for r in hidden.jobs]


def test_a_missing_index_is_rebuilt_from_the_records(store: ObjectStore) -> None:
    jobs = JobStore(store, "proj")
    old = JobRecord(id=jobs.new_job_id(), project="proj", name="before the index", labels={"dag": "d"})
    store.put_bytes(jobs.record_key(old.id), encode_record(old))  # written by a version without the index
    assert [r.id for r in page_jobs(jobs, JobQuery()).jobs] == [old.id]
    assert jobs.find_by_labels({"dag": "d"}) is not None
    new = _jobs(jobs, 1)[0]
    for info in list(store.list(jobs.index_prefix())):  # the index lost
        store.delete(info.key)
    later = JobStore(store, "proj")  # the next process to list (a store checks for its index once)
    assert [r.id for r in page_jobs(later, JobQuery()).jobs] == [new.id, old.id]
    store.delete(later.recent_key())  # only the compact list of the newest lost: rebuilt from the index keys
    assert [r.id for r in page_jobs(JobStore(store, "proj"), JobQuery()).jobs] == [new.id, old.id]


def test_find_by_labels_reads_only_jobs_with_the_label(store: ObjectStore, monkeypatch: pytest.MonkeyPatch) -> None:
    jobs = JobStore(store, "proj")
    assert jobs.rebuild_index() == 0  # a new project's index (else the first find builds it, once)
    _jobs(jobs, 10, labels={"airflow.dag_id": "busy", "airflow.run_id": "other"})
    first = _jobs(jobs, 1, labels={"airflow.dag_id": "busy", "airflow.run_id": "r1", "airflow.task_id": "t"})[0]
    _jobs(jobs, 10, labels={"airflow.dag_id": "busy", "airflow.run_id": "other"})
    retry = _jobs(jobs, 1, labels={"airflow.dag_id": "busy", "airflow.run_id": "r1", "airflow.task_id": "t"})[0]
    counting = Counting(store, monkeypatch)
    found = jobs.find_by_labels({"airflow.dag_id": "busy", "airflow.run_id": "r1", "airflow.task_id": "t"})
    assert found is not None and found.id == retry.id != first.id  # the newest
    assert counting.reads == [jobs.record_key(retry.id)]
    assert jobs.find_by_labels({"airflow.dag_id": "busy", "airflow.run_id": "nope"}) is None
    hostile = {"../../x": "a/b\x00c", "k": "v" * 2000}  # labels become hashes, never key parts
    assert jobs.find_by_labels(hostile) is None


def test_a_label_with_hostile_text_is_indexed_safely(local_store: LocalStore) -> None:
    jobs = JobStore(local_store, "proj")
    record = _jobs(jobs, 1, labels={"../../../etc/passwd": "/..\\x", "airflow.dag_id": "x" * 3000})[0]
    assert jobs.find_by_labels({"../../../etc/passwd": "/..\\x"}).id == record.id  # type: ignore[union-attr]
    assert all(p.is_relative_to(local_store.root) for p in local_store.root.rglob("*"))


def test_listing_5000_jobs_needs_no_more_than_a_page_of_reads_on_s3(
    s3_store: S3Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = JobStore(s3_store, "proj")
    for i in range(300):
        record = JobRecord(id=jobs.new_job_id(), project="proj", name=f"n{i}")
        s3_store.put_bytes(jobs.record_key(record.id), encode_record(record))
    jobs.rebuild_index()
    counting = Counting(s3_store, monkeypatch)
    page = page_jobs(jobs, JobQuery(limit=50))
    assert len(page.jobs) == 50 and page.jobs[0].name == "n299" and len(counting.reads) == 51


def test_pages_past_the_recent_list_come_from_the_index_keys(
    store: ObjectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("airflow_provider_dsjobs.jobs.store.RECENT_MAX", 5)
    jobs = JobStore(store, "proj")
    jobs.rebuild_index()
    made = _jobs(jobs, 12)
    newest_first = [r.id for r in reversed(made)]
    assert [i for batch in jobs.iter_ids(first_page=2) for i in batch] == newest_first
    assert [r.id for r in page_jobs(jobs, JobQuery(offset=4, limit=4)).jobs] == newest_first[4:8]
    everything = page_jobs(jobs, JobQuery(limit=50))
    assert [r.id for r in everything.jobs] == newest_first and (everything.total, everything.exact) == (12, True)


def test_a_hostile_recent_list_names_no_other_job(store: ObjectStore) -> None:
    jobs = JobStore(store, "proj")
    made = _jobs(jobs, 2)
    page_jobs(jobs, JobQuery())
    store.put_bytes(jobs.recent_key(), b'{"names": ["0-../../../etc/passwd", "0000000000000-zzz"]}')
    assert page_jobs(JobStore(store, "proj"), JobQuery()).jobs == []  # names only what is stored: nothing here
    store.put_bytes(jobs.recent_key(), b"not json")  # unreadable: rebuilt from the index keys
    assert [r.id for r in page_jobs(JobStore(store, "proj"), JobQuery()).jobs] == [r.id for r in reversed(made)]


def test_a_creator_that_cannot_update_the_recent_list_drops_it_and_the_job_is_still_listed(
    local_store: LocalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = JobStore(local_store, "proj")
    first = _jobs(jobs, 1)[0]
    real = local_store.put_bytes_if

    def always_beaten(key: str, data: bytes, **kwargs: Any) -> str:
        if key == jobs.recent_key():  # fault: every other writer keeps getting there first
            raise PreconditionFailed("changed since it was read")
        return real(key, data, **kwargs)

    monkeypatch.setattr(local_store, "put_bytes_if", always_beaten)
    monkeypatch.setattr("airflow_provider_dsjobs.jobs.store.time.sleep", lambda _: None)
    second = _jobs(jobs, 1)[0]
    assert not local_store.exists(jobs.recent_key())  # given up: dropped, so nobody trusts a list without it
    monkeypatch.setattr(local_store, "put_bytes_if", real)
    assert [r.id for r in page_jobs(JobStore(local_store, "proj"), JobQuery()).jobs] == [second.id, first.id]


def test_a_create_cut_off_before_its_record_leaves_only_a_key_listings_skip(
    local_store: LocalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = JobStore(local_store, "proj")
    kept = _jobs(jobs, 1)[0]
    real = local_store.put_bytes_if

    def record_write_fails(key: str, data: bytes, **kwargs: Any) -> str:
        if key.endswith("/record.json"):  # fault: the process dies (the store fails) before the record is written
            raise StoreError("cannot write: disk full")
        return real(key, data, **kwargs)

    monkeypatch.setattr(local_store, "put_bytes_if", record_write_fails)
    with pytest.raises(StoreError, match="disk full"):
        _jobs(jobs, 1)
    monkeypatch.setattr(local_store, "put_bytes_if", real)
    page = page_jobs(JobStore(local_store, "proj"), JobQuery())
    assert [r.id for r in page.jobs] == [kept.id] and (page.total, page.exact) == (1, True)


def test_a_filter_on_running_statuses_reads_only_the_jobs_not_ended(
    store: ObjectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = JobStore(store, "proj")
    made = _jobs(jobs, 40)
    for record in made:  # all but two end
        if record.name not in ("job3", "job30"):
            jobs.update(record.id, lambda r: (r.set_status(JobStatus.ERROR, "x"), r)[1])
    jobs.update(made[30].id, lambda r: (r.set_status(JobStatus.CANCELLING), r)[1])
    stale = made[5]  # ended, but its end did not reach the index (a crash right after the record's write)
    store.put_bytes(f"{jobs.index_active_prefix()}{index_name(stale)}", b"")
    counting = Counting(store, monkeypatch)
    page = page_jobs(JobStore(store, "proj"), JobQuery(statuses=frozenset({JobStatus.CREATING, JobStatus.CANCELLING})))
    assert [r.name for r in page.jobs] == ["job30", "job3"] and (page.total, page.exact) == (2, True)
    assert len(counting.reads) == 3  # the two running jobs and the stale key's record, not 40
    monkeypatch.undo()
    jobs.rebuild_index()  # a rebuild drops the stale key
    assert sorted(store.list_keys(jobs.index_active_prefix())) == sorted(
        f"{jobs.index_active_prefix()}{index_name(r)}" for r in (made[3], made[30])
    )


# -- filters on ended statuses: the status index (``index/status/<STATUS>/``) -------------------------------------


def _ended(status: JobStatus) -> Any:
    return lambda r: (r.set_status(status, "x" if status is JobStatus.ERROR else None), r)[1]


def _history(store: ObjectStore, plan: list[tuple[int, JobStatus]]) -> list[JobRecord]:
    """A project whose records (oldest first: ``count`` jobs in ``status`` for each step of ``plan``) were written
    side by side, then indexed by ``rebuild_index``: thousands of jobs in seconds, on moto too."""
    jobs = JobStore(store, "proj")
    made = []
    for count, status in plan:
        for _ in range(count):
            record = JobRecord(id=jobs.new_job_id(), project="proj", name=f"job{len(made)}")
            if status is not JobStatus.CREATING:
                record.set_status(status, "x" if status is JobStatus.ERROR else None)
            made.append(record)
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda r: store.put_bytes(jobs.record_key(r.id), encode_record(r)), made))
    assert jobs.rebuild_index() == len(made)
    return made


def _newest_first(made: list[JobRecord], *statuses: JobStatus) -> list[str]:
    return [r.id for r in reversed(made) if r.status in statuses]


def test_a_filter_on_ended_jobs_far_back_reads_one_listing_and_a_page(
    store: ObjectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    failed_long_ago = [(30, JobStatus.ERROR), (10, JobStatus.CANCELLED)]
    made = _history(store, [*failed_long_ago, (500, JobStatus.SUCCESS), (5, JobStatus.EXECUTING)])
    counting = Counting(store, monkeypatch)
    errors = page_jobs(JobStore(store, "proj"), JobQuery(statuses=frozenset({JobStatus.ERROR}), limit=20))
    assert [r.id for r in errors.jobs] == _newest_first(made, JobStatus.ERROR)[:20]
    assert (errors.total, errors.exact) == (21, False)
    assert len(counting.reads) == 21  # the page and one more, not the 500 newer jobs the old scan read first
    assert counting.listings == [JobStore(store, "proj").index_status_prefix(JobStatus.ERROR)]
    counting.reads.clear()
    counting.listings.clear()
    ended = frozenset({JobStatus.ERROR, JobStatus.CANCELLED})
    page = page_jobs(JobStore(store, "proj"), JobQuery(statuses=ended, offset=5, limit=10))
    assert [r.id for r in page.jobs] == _newest_first(made, *ended)[5:15]  # the CANCELLED ones are newer
    assert len(counting.reads) == 16 and len(counting.listings) == 2  # one listing request per status
    everything = page_jobs(JobStore(store, "proj"), JobQuery(statuses=ended, limit=100))
    assert (everything.total, everything.exact) == (40, True)


def test_a_filter_mixing_ended_and_running_statuses_returns_what_reading_every_record_does(
    store: ObjectStore,
) -> None:
    made = _history(
        store,
        [(7, JobStatus.ERROR), (20, JobStatus.SUCCESS), (3, JobStatus.EXECUTING), (9, JobStatus.CANCELLED),
         (4, JobStatus.CANCELLING), (6, JobStatus.ERROR), (5, JobStatus.CREATING)],
    )  # fmt: skip
    jobs = JobStore(store, "proj")
    for record in made[27:29]:  # two running jobs end the usual way: their keys move from active to ERROR
        jobs.update(record.id, _ended(JobStatus.ERROR))
    store.put_bytes(f"{jobs.index_active_prefix()}{index_name(made[3])}", b"")  # ended, stale active key
    everything = jobs.list()
    for statuses in [{JobStatus.ERROR, JobStatus.EXECUTING}, {JobStatus.CANCELLED, JobStatus.CANCELLING,
                     JobStatus.CREATING}, {JobStatus.SUCCESS, JobStatus.ERROR, JobStatus.EXECUTING}]:  # fmt: skip
        for offset, limit in [(0, 5), (3, 7), (0, 100), (12, 4)]:
            query = JobQuery(statuses=frozenset(statuses), offset=offset, limit=limit)
            page, scanned = page_jobs(JobStore(store, "proj"), query), select_jobs(everything, query)
            assert [r.id for r in page.jobs] == [r.id for r in scanned.jobs], (statuses, offset, limit)
            if page.exact:
                assert page.total == scanned.total
            else:  # at least one more than the page, and no more than there are
                assert offset + limit < page.total <= scanned.total


def test_an_index_built_before_the_status_keys_is_rebuilt_on_first_listing(
    store: ObjectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = _history(store, [(4, JobStatus.ERROR), (30, JobStatus.SUCCESS)])
    jobs = JobStore(store, "proj")
    for info in list(store.list(f"{jobs.index_prefix()}status/")):  # what the previous version left: no status keys
        store.delete(info.key)
    store.put_bytes(jobs.index_marker_key(), b'{"built_at": "2026-12-01T10:00:00+00:00"}')  # and no version
    errors = page_jobs(JobStore(store, "proj"), JobQuery(statuses=frozenset({JobStatus.ERROR})))
    assert [r.id for r in errors.jobs] == _newest_first(made, JobStatus.ERROR)
    assert IndexMarker.from_doc(decode(store.get_bytes(jobs.index_marker_key()))).version == INDEX_VERSION
    counting = Counting(store, monkeypatch)  # rebuilt once: the next process reads only the status index
    again = page_jobs(JobStore(store, "proj"), JobQuery(statuses=frozenset({JobStatus.ERROR})))
    assert [r.id for r in again.jobs] == [r.id for r in errors.jobs] and len(counting.reads) == 4


@pytest.mark.parametrize(
    "marker", [b'{"built_at": 5}', b"not json", b'["built_at"]', b'{"built_at": "x", "version": 2}']
)
def test_a_tampered_index_marker_is_rebuilt_instead_of_failing_the_listing(store: ObjectStore, marker: bytes) -> None:
    made = _history(store, [(3, JobStatus.CANCELLED), (5, JobStatus.SUCCESS)])
    jobs = JobStore(store, "proj")
    store.delete(f"{jobs.index_status_prefix(JobStatus.CANCELLED)}{index_name(made[0])}")  # lost with the marker
    store.put_bytes(jobs.index_marker_key(), marker)
    page = page_jobs(JobStore(store, "proj"), JobQuery(statuses=frozenset({JobStatus.CANCELLED})))
    assert [r.id for r in page.jobs] == _newest_first(made, JobStatus.CANCELLED)
    assert IndexMarker.from_doc(decode(store.get_bytes(jobs.index_marker_key()))).version == INDEX_VERSION


def test_a_planted_status_key_shows_no_job_of_another_status(store: ObjectStore) -> None:
    made = _history(store, [(2, JobStatus.ERROR), (3, JobStatus.SUCCESS), (1, JobStatus.EXECUTING)])
    jobs = JobStore(store, "proj")
    errors = jobs.index_status_prefix(JobStatus.ERROR)
    for record in made[2:]:  # a store writer files the succeeded and the running jobs under ERROR
        store.put_bytes(f"{errors}{index_name(record)}", b"")
    store.put_bytes(f"{errors}0000000000000-..%2F..%2Fetc%2Fpasswd", b"")  # and names no job at all
    store.put_bytes(f"{errors}no-index-name", b"")
    store.put_bytes(f"{errors}0000000000000-zzzz", b"")  # or a job that does not exist
    page = page_jobs(JobStore(store, "proj"), JobQuery(statuses=frozenset({JobStatus.ERROR})))
    assert [r.id for r in page.jobs] == _newest_first(made, JobStatus.ERROR)
    assert (page.total, page.exact) == (2, True)


def test_a_job_that_ends_is_filed_under_its_status_before_its_record_says_so(
    local_store: LocalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = JobStore(local_store, "proj")
    ends, crashes = _jobs(jobs, 2)
    jobs.update(ends.id, _ended(JobStatus.CANCELLED))
    keys = set(local_store.list_keys(jobs.index_status_prefix(JobStatus.CANCELLED)))
    assert keys == {f"{jobs.index_status_prefix(JobStatus.CANCELLED)}{index_name(ends)}"}
    assert not local_store.exists(f"{jobs.index_active_prefix()}{index_name(ends)}")
    real = local_store.put_bytes_if

    def record_write_fails(key: str, data: bytes, **kwargs: Any) -> str:
        if key == jobs.record_key(crashes.id):  # fault: the process dies before the record says ERROR
            raise StoreError("cannot write: disk full")
        return real(key, data, **kwargs)

    monkeypatch.setattr(local_store, "put_bytes_if", record_write_fails)
    with pytest.raises(StoreError, match="disk full"):
        jobs.update(crashes.id, _ended(JobStatus.ERROR))
    monkeypatch.undo()
    statuses = frozenset({JobStatus.ERROR})
    assert page_jobs(jobs, JobQuery(statuses=statuses)).jobs == []  # its key is there; its record decides
    jobs.update(crashes.id, _ended(JobStatus.ERROR))  # the finalizer that retries ends it: listed now
    assert [r.id for r in page_jobs(jobs, JobQuery(statuses=statuses)).jobs] == [crashes.id]
