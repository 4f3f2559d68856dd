"""How job records change: one compare-and-swap path (``JobStore.update``) checked against the transition table
(``JobStatus.can_become``), on both stores, with real processes racing on the same record."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dsjobs.documents.record import TRANSITIONS, JobRecord, JobStatus
from airflow_provider_dsjobs.jobs.query import JobQuery, page_jobs
from airflow_provider_dsjobs.jobs.store import InvalidTransition, JobStore, UpdateConflict
from airflow_provider_dsjobs.storage.base import ObjectStore, StoreError
from airflow_provider_dsjobs.storage.local import LocalStore
from tests.jobs import race_worker
from tests.storage.stores import local_store, s3_store, store

__all__ = ["local_store", "s3_store", "store"]

S = JobStatus


def _executing(jobs: JobStore) -> JobRecord:
    record = JobRecord(id=jobs.new_job_id(), project=jobs.project, name="race", container_id="c1")
    for status in (S.CREATING, S.PREPARING, S.EXECUTING):
        record.set_status(status)
    jobs.create(record)
    return record


def test_the_transition_table() -> None:
    assert all(not TRANSITIONS[s] for s in S if s.terminal)  # a terminal status is never left
    assert S.CREATING.can_become(S.PREPARING) and S.PREPARING.can_become(S.EXECUTING)
    assert S.EXECUTING.can_become(S.UPLOADING_OUTPUT) and S.UPLOADING_OUTPUT.can_become(S.SUCCESS)
    assert all(s.can_become(S.CANCELLING) for s in S if not s.terminal and s != S.CANCELLING)
    assert S.CANCELLING.can_become(S.CANCELLED) and not S.CANCELLING.can_become(S.EXECUTING)
    assert not S.EXECUTING.can_become(S.CREATING) and not S.SUCCESS.can_become(S.ERROR)
    assert all(s.can_become(s) for s in S)


def test_create_refuses_an_existing_id(store: ObjectStore) -> None:
    jobs = JobStore(store, "proj")
    record = _executing(jobs)
    with pytest.raises(StoreError, match=f"job {record.id} exists already"):
        jobs.create(record)


def test_an_update_that_lost_re_reads_and_decides_again(store: ObjectStore) -> None:
    jobs = JobStore(store, "proj")
    record = _executing(jobs)
    other = JobStore(store, "proj")  # another host
    seen: list[JobStatus] = []

    def finish(current: JobRecord) -> JobRecord | None:
        seen.append(current.status)
        if len(seen) == 1:  # meanwhile another host cancels
            other.update(record.id, lambda r: (r.set_status(S.CANCELLING, by="cancel"), r)[1])
        current.set_status(S.UPLOADING_OUTPUT if current.status == S.EXECUTING else S.CANCELLED)
        return current

    result = jobs.update(record.id, finish)
    assert seen == [S.EXECUTING, S.CANCELLING]  # the second call saw the cancel and decided on it
    assert result.status == S.CANCELLED and jobs.load(record.id).status == S.CANCELLED
    assert [h.status for h in jobs.load(record.id).history][-2:] == [S.CANCELLING, S.CANCELLED]


def test_a_terminal_record_is_a_lost_race_and_a_bad_transition_a_bug(store: ObjectStore) -> None:
    jobs = JobStore(store, "proj")
    record = _executing(jobs)
    with pytest.raises(InvalidTransition, match="EXECUTING -> CREATING is not an allowed transition"):
        jobs.update(record.id, lambda r: (r.set_status(S.CREATING), r)[1])
    jobs.update(record.id, lambda r: (r.set_status(S.SUCCESS), r)[1])
    after = jobs.update(record.id, lambda r: (r.set_status(S.ERROR, "late"), r)[1])
    assert after.status == S.SUCCESS and jobs.load(record.id).status_details is None
    ttl = jobs.update(record.id, lambda r: (setattr(r, "desc", "kept"), r)[1])  # other fields may still change
    assert ttl.desc == "kept" and ttl.status == S.SUCCESS
    assert jobs.update(record.id, lambda r: None) == jobs.load(record.id)


def test_update_gives_up_after_endless_conflicts(local_store: LocalStore) -> None:
    jobs = JobStore(local_store, "proj")
    record = _executing(jobs)

    def always_beaten(current: JobRecord) -> JobRecord:
        local_store.put_bytes(jobs.record_key(record.id), local_store.get_bytes(jobs.record_key(record.id)) + b" ")
        current.desc = "never written"
        return current

    with pytest.raises(UpdateConflict, match=f"job {record.id}: gave up after 25 conflicting writes"):
        jobs.update(record.id, always_beaten)


def _where(store: ObjectStore, s3_env: dict[str, str] | None, tmp_path: Path) -> dict[str, str]:
    if isinstance(store, LocalStore):
        return {"kind": "local", "root": str(store.root)}
    assert s3_env is not None
    return {"kind": "s3", "bucket": s3_env["bucket"], "endpoint": s3_env["endpoint"]}


def _race(target: Any, args_of: list[tuple[Any, ...]]) -> None:
    """Run ``target(*args, barrier)`` in one spawned process per ``args``, all let go at once by the barrier."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(len(args_of))
    procs = [ctx.Process(target=target, args=(*args, barrier)) for args in args_of]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0] * len(procs)


@pytest.mark.parametrize("canceller_first", [False, True])
def test_two_processes_racing_to_finalize_and_cancel_one_job(
    store: ObjectStore, request: pytest.FixtureRequest, tmp_path: Path, canceller_first: bool
) -> None:
    jobs = JobStore(store, "proj")
    record = _executing(jobs)
    s3_env = None if isinstance(store, LocalStore) else request.getfixturevalue("s3_env")
    where = _where(store, s3_env, tmp_path)
    results: Any = multiprocessing.get_context("spawn").Queue()
    hows = ["cancel", "finalize"] if canceller_first else ["finalize", "cancel"]
    _race(race_worker.end_job, [(where, record.id, how, results) for how in hows])
    seen = dict(results.get(timeout=10) for _ in hows)
    final = jobs.load(record.id)
    assert seen == {"finalize": final.status.value, "cancel": final.status.value}  # both return the one outcome
    terminal = [h.status for h in final.history if h.status.terminal]
    assert len(terminal) == 1  # exactly one transition won
    if final.status == S.SUCCESS:  # the finalizer's outcome, whole
        assert final.outputs and final.logs and final.return_code == 0 and final.status_details is None
    else:  # the canceller's, whole: no outputs of the finalizer
        assert final.status == S.CANCELLED and final.status_details == "cancelled by the racing test"
        assert not final.outputs and final.logs is None and final.return_code is None


def test_no_update_is_lost_between_two_processes(
    store: ObjectStore, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    jobs = JobStore(store, "proj")
    record = _executing(jobs)
    s3_env = None if isinstance(store, LocalStore) else request.getfixturevalue("s3_env")
    where = _where(store, s3_env, tmp_path)
    _race(race_worker.add_labels, [(where, record.id, "a", 15), (where, record.id, "b", 15)])
    labels = jobs.load(record.id).labels
    assert sorted(labels) == sorted([f"a-{i}" for i in range(15)] + [f"b-{i}" for i in range(15)])


def test_jobs_created_by_two_processes_at_once_are_all_listed(
    store: ObjectStore, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    jobs = JobStore(store, "proj")
    _executing(jobs)  # the project's first job builds its index
    s3_env = None if isinstance(store, LocalStore) else request.getfixturevalue("s3_env")
    where = _where(store, s3_env, tmp_path)
    _race(race_worker.create_jobs, [(where, "a", 12), (where, "b", 12)])
    page = page_jobs(JobStore(store, "proj"), JobQuery(limit=50))
    names = [r.name for r in page.jobs]
    assert sorted(names[:-1]) == sorted([f"a-{i}" for i in range(12)] + [f"b-{i}" for i in range(12)])
    assert names[-1] == "race" and page.exact
    assert [n for n in names if n.startswith("a-")] == [f"a-{i}" for i in range(11, -1, -1)]  # newest first
    assert [n for n in names if n.startswith("b-")] == [f"b-{i}" for i in range(11, -1, -1)]
