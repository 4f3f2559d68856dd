"""Garbage collection on both backends: expired job data, live and dead cached inputs, the grace period."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from airflow_provider_dsjobs.documents.record import InputRef, JobRecord, JobStatus, utcnow
from airflow_provider_dsjobs.jobs.gc import clear_job, collect_garbage, maybe_collect_garbage
from airflow_provider_dsjobs.jobs.store import JobStore
from airflow_provider_dsjobs.storage.base import ObjectStore
from airflow_provider_dsjobs.storage.cas import InputStager, StagedInput, blob_key, tree_key
from airflow_provider_dsjobs.storage.digests import hash_of
from airflow_provider_dsjobs.storage.hashing import HashMemo
from tests.storage.stores import local_store, s3_store, store

__all__ = ["local_store", "s3_store", "store"]

LATER = timedelta(hours=2)  # "now" for gc runs that should see today's uploads as old


def sha(data: bytes) -> str:
    return hash_of(data)


def stage(store: ObjectStore, path: Path) -> StagedInput:
    stager = InputStager(store, "proj", memo=HashMemo())
    staged = stager.stage(path)
    stager.release()
    return staged


def job_with_input(js: JobStore, staged: StagedInput, *, expires_in: timedelta | None) -> JobRecord:
    record = JobRecord(id=js.new_job_id(), project="proj")
    record.inputs = [InputRef(str(staged.local_path), None, staged.kind, staged.sha256, staged.size)]
    record.set_status(JobStatus.SUCCESS)
    record.data_expires_at = None if expires_in is None else utcnow() + expires_in
    js.save(record)
    js.store.put_bytes(js.outputs_prefix(record.id) + "result.txt", b"result!")
    js.store.put_bytes(js.outputs_prefix(record.id) + "manifest.json", b"{}")
    js.store.put_bytes(js.logs_prefix(record.id) + "job.log", b"log line\n")
    js.store.put_bytes(js.inputs_manifest_key(record.id), b"[]")
    return record


def test_expired_job_data_is_cleared_and_record_kept(store: ObjectStore, tmp_path: Path) -> None:
    js = JobStore(store, "proj")
    f = tmp_path / "in.txt"
    f.write_bytes(b"input")
    expired = job_with_input(js, stage(store, f), expires_in=timedelta(days=-1))
    kept = job_with_input(js, stage(store, f), expires_in=timedelta(days=1))

    report = collect_garbage(js)
    assert report.jobs_cleared == [expired.id]
    assert report.bytes_freed == len(b"result!") + 2 + len(b"log line\n") + 2
    assert js.load(expired.id).data_cleared
    assert list(store.list(js.outputs_prefix(expired.id))) == []
    assert list(store.list(js.logs_prefix(expired.id))) == []
    assert not store.exists(js.inputs_manifest_key(expired.id))
    assert not js.load(kept.id).data_cleared
    assert store.exists(js.outputs_prefix(kept.id) + "result.txt")
    assert collect_garbage(js).jobs_cleared == []  # idempotent


def test_running_job_is_not_cleared_even_when_expired(store: ObjectStore, tmp_path: Path) -> None:
    js = JobStore(store, "proj")
    f = tmp_path / "in.txt"
    f.write_bytes(b"input")
    record = job_with_input(js, stage(store, f), expires_in=timedelta(days=-1))
    record.set_status(JobStatus.EXECUTING)
    record.finished_at = None
    js.save(record)
    assert collect_garbage(js, utcnow() + LATER).jobs_cleared == []
    assert store.exists(blob_key("proj", sha(b"input")))


def test_blobs_of_live_jobs_are_kept_and_unreferenced_old_ones_deleted(store: ObjectStore, tmp_path: Path) -> None:
    js = JobStore(store, "proj")
    live_dir = tmp_path / "live"
    (live_dir / "sub").mkdir(parents=True)
    (live_dir / "sub" / "a.txt").write_bytes(b"live file")
    live = stage(store, live_dir)
    job_with_input(js, live, expires_in=timedelta(days=10))

    dead_file = tmp_path / "dead.bin"
    dead_file.write_bytes(b"dead" * 100)
    dead = stage(store, dead_file)
    job_with_input(js, dead, expires_in=timedelta(hours=1))  # expires before "LATER"
    dead_dir = tmp_path / "deaddir"
    dead_dir.mkdir()
    (dead_dir / "x").write_bytes(b"orphan")
    orphan_tree = stage(store, dead_dir)  # staged, but no job ever recorded it

    report = collect_garbage(js, utcnow() + LATER)
    assert len(report.jobs_cleared) == 1
    assert store.exists(blob_key("proj", sha(b"live file")))
    assert store.exists(tree_key("proj", live.sha256))
    assert not store.exists(blob_key("proj", dead.sha256))
    assert not store.exists(blob_key("proj", sha(b"orphan")))
    assert not store.exists(tree_key("proj", orphan_tree.sha256))
    assert report.blobs_deleted == 3  # dead.bin, orphan's blob, orphan's tree
    assert report.bytes_freed >= 400 + 6


def test_young_blobs_are_kept(store: ObjectStore, tmp_path: Path) -> None:
    js = JobStore(store, "proj")
    f = tmp_path / "new.txt"
    f.write_bytes(b"just staged, job record not written yet")
    staged = stage(store, f)
    report = collect_garbage(js)  # now: the blob is seconds old
    assert report.blobs_deleted == 0
    assert store.exists(blob_key("proj", staged.sha256))


def test_a_staging_lease_protects_an_old_reused_blob(store: ObjectStore, tmp_path: Path) -> None:
    js = JobStore(store, "proj")
    f = tmp_path / "reused.txt"
    f.write_bytes(b"reused")
    stage(store, f)
    # A second submission reuses the (by then old) blob and has not saved its record yet.
    stager = InputStager(store, "proj", memo=HashMemo())
    stager.stage(f)
    assert stager.stats.bytes_uploaded == 0
    # Past the blob's grace period the unreleased lease still counts as a reference...
    report = collect_garbage(js, utcnow() + LATER)
    assert report.blobs_deleted == 0 and store.exists(blob_key("proj", sha(b"reused")))
    # ...until it outlives its TTL (a submitter that crashed before saving its record).
    report = collect_garbage(js, utcnow() + timedelta(days=2))
    assert report.blobs_deleted == 1 and not store.exists(blob_key("proj", sha(b"reused")))
    assert list(store.list("projects/proj/staging/")) == []


def test_cleared_jobs_no_longer_protect_their_inputs(store: ObjectStore, tmp_path: Path) -> None:
    js = JobStore(store, "proj")
    f = tmp_path / "in.txt"
    f.write_bytes(b"only used by an old job")
    staged = stage(store, f)
    job_with_input(js, staged, expires_in=timedelta(days=-1))
    first = collect_garbage(js)  # clears the job; the blob is still young
    assert store.exists(blob_key("proj", staged.sha256))
    second = collect_garbage(js, utcnow() + LATER)
    assert len(first.jobs_cleared) == 1 and second.jobs_cleared == []
    assert not store.exists(blob_key("proj", staged.sha256))


def test_an_unreadable_live_tree_stops_blob_deletion(store: ObjectStore, tmp_path: Path) -> None:
    js = JobStore(store, "proj")
    d = tmp_path / "d"
    d.mkdir()
    (d / "f").write_bytes(b"needed")
    live = stage(store, d)
    job_with_input(js, live, expires_in=timedelta(days=5))
    store.delete(tree_key("proj", live.sha256))
    report = collect_garbage(js, utcnow() + LATER)
    assert report.blobs_deleted == 0
    assert store.exists(blob_key("proj", sha(b"needed")))


def _objects(store: ObjectStore) -> list[str]:
    return sorted(info.key for info in store.list(""))


def test_dry_run_reports_what_would_go_and_deletes_nothing(store: ObjectStore, tmp_path: Path) -> None:
    js = JobStore(store, "proj")
    f = tmp_path / "in.txt"
    f.write_bytes(b"only the expired job uses this")
    expired = job_with_input(js, stage(store, f), expires_in=timedelta(days=-1))
    before = _objects(store)

    dry = collect_garbage(js, utcnow() + LATER, dry_run=True)
    assert dry.dry_run and dry.jobs_cleared == [expired.id] and dry.blobs_deleted == 1
    assert _objects(store) == before and not js.load(expired.id).data_cleared

    real = collect_garbage(js, utcnow() + LATER)
    assert (real.jobs_cleared, real.blobs_deleted, real.bytes_freed) == (
        dry.jobs_cleared,
        dry.blobs_deleted,
        dry.bytes_freed,
    )
    cleared = js.load(expired.id)
    assert cleared.data_cleared and cleared.data_cleared_reason == "expired" and cleared.data_cleared_at is not None
    assert "data was cleared on " in (cleared.data_unavailable() or "")


def test_a_spent_budget_stops_between_deletions_and_the_next_run_goes_on(store: ObjectStore, tmp_path: Path) -> None:
    js = JobStore(store, "proj")
    f = tmp_path / "in.txt"
    f.write_bytes(b"input")
    first = job_with_input(js, stage(store, f), expires_in=timedelta(days=-1))
    report = collect_garbage(js, budget=-1)  # already spent: nothing done, and it says so
    assert not report.complete and report.jobs_cleared == [] and not js.load(first.id).data_cleared
    assert collect_garbage(js, budget=60).jobs_cleared == [first.id]


def test_opportunistic_gc_runs_at_most_once_per_interval(store: ObjectStore, tmp_path: Path) -> None:
    js = JobStore(store, "proj")
    f = tmp_path / "in.txt"
    f.write_bytes(b"input")
    one = job_with_input(js, stage(store, f), expires_in=timedelta(days=-1))
    hour = timedelta(hours=1)
    ran = maybe_collect_garbage(js, hour, budget=10)
    assert ran is not None and ran.jobs_cleared == [one.id]
    two = job_with_input(js, stage(store, f), expires_in=timedelta(days=-1))
    assert maybe_collect_garbage(js, hour, budget=10) is None  # ran moments ago
    assert not js.load(two.id).data_cleared
    later = maybe_collect_garbage(js, hour, budget=10, now=utcnow() + 2 * hour)
    assert later is not None and later.jobs_cleared == [two.id]


def test_expired_data_is_unavailable_before_it_is_deleted() -> None:
    record = JobRecord(id="j1", project="proj")
    record.data_expires_at = utcnow() - timedelta(minutes=1)
    assert record.data_unavailable() is None  # still running: its data is in use
    record.set_status(JobStatus.SUCCESS)
    reason = record.data_unavailable() or ""
    assert reason.startswith("job j1 data expired on ") and reason[23:27].isdigit()
    record.data_expires_at = None
    assert record.data_unavailable() is None


def test_clear_job_deletes_its_data_and_the_inputs_only_it_used(store: ObjectStore, tmp_path: Path) -> None:
    js = JobStore(store, "proj")
    (tmp_path / "shared.txt").write_bytes(b"shared")
    (tmp_path / "own").mkdir()
    (tmp_path / "own" / "a.txt").write_bytes(b"only job one")
    shared = stage(store, tmp_path / "shared.txt")
    one = job_with_input(js, shared, expires_in=timedelta(days=10))
    own = stage(store, tmp_path / "own")
    one.inputs.append(InputRef("own", None, "dir", own.sha256, own.size))
    js.save(one)
    two = job_with_input(js, shared, expires_in=timedelta(days=10))

    report = clear_job(js, one, grace=timedelta(0))
    assert report.jobs_cleared == [one.id] and report.blobs_deleted == 2  # the tree and its one blob
    assert not store.exists(tree_key("proj", own.sha256)) and not store.exists(blob_key("proj", sha(b"only job one")))
    assert store.exists(blob_key("proj", sha(b"shared")))  # job two still needs it
    assert list(store.list(js.outputs_prefix(one.id))) == [] and js.load(one.id).data_cleared_reason == "cleared"
    assert store.exists(js.outputs_prefix(two.id) + "result.txt") and not js.load(two.id).data_cleared


HOSTILE_LEASES = [b'{"ids": [{"a": 1}]}', b'{"ids": "blake3:ab"}', b"[1, 2]", b"\xff not json", b'{"ids": null}']


@pytest.mark.parametrize("body", HOSTILE_LEASES)
def test_a_tampered_staging_lease_keeps_every_blob_and_gc_goes_on(
    store: ObjectStore, tmp_path: Path, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    # Any store writer can put anything under staging/: gc must neither crash on it nor take it as naming nothing.
    js = JobStore(store, "proj")
    f = tmp_path / "old.txt"
    f.write_bytes(b"no record references me")
    stage(store, f)
    store.put_bytes("projects/proj/staging/20260101T000000-tampered.json", body)
    report = collect_garbage(js, utcnow() + LATER)
    assert report.blobs_deleted == 0 and store.exists(blob_key("proj", sha(b"no record references me")))
    assert "unreadable staging lease" in caplog.text


@pytest.mark.parametrize("body", [b'{"at": 5}', b'{"at": "yesterday"}', b"[]", b"\x00"])
def test_a_tampered_gc_marker_is_rewritten_and_gc_runs(store: ObjectStore, body: bytes) -> None:
    js = JobStore(store, "proj")
    store.put_bytes(js.gc_marker_key(), body)
    assert maybe_collect_garbage(js, timedelta(hours=1), budget=30) is not None
    assert maybe_collect_garbage(js, timedelta(hours=1), budget=30) is None  # the rewritten marker holds
