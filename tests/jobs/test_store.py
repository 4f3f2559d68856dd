"""JobStore on both backends: records round-trip, listing order, missing jobs, TTL, ids."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from airflow_provider_dsjobs.documents.record import EngineRef, InputRef, JobRecord, JobStatus, utcnow
from airflow_provider_dsjobs.jobs.service import JobError
from airflow_provider_dsjobs.jobs.store import JobNotFound, JobStore, new_job_id
from airflow_provider_dsjobs.storage.base import ObjectStore, StoreError
from tests.storage.stores import local_store, s3_store, store

__all__ = ["local_store", "s3_store", "store"]


def make_record(job_store: JobStore, **kwargs: object) -> JobRecord:
    record = JobRecord(id=job_store.new_job_id(), project=job_store.project, **kwargs)  # type: ignore[arg-type]
    job_store.save(record)
    return record


def test_save_and_load_round_trip(store: ObjectStore) -> None:
    js = JobStore(store, "proj")
    record = JobRecord(id=new_job_id(), project="proj", name="train", labels={"dag_id": "d"})
    record.inputs = [InputRef("data", "DATA", "dir", "a" * 64, 3)]
    record.set_status(JobStatus.EXECUTING)
    js.save(record)
    loaded = js.load(record.id)
    assert loaded == record
    raw = json.loads(store.get_bytes(f"projects/proj/jobs/{record.id}/record.json"))
    assert raw["status"] == "EXECUTING" and raw["name"] == "train"
    assert raw["inputs"] == [
        {"path": "data", "var": "DATA", "kind": "dir", "sha256": "a" * 64, "size": 3, "mode": 0o644}
    ]


def test_inputs_of_a_record_read_typed_as_every_version_wrote_them() -> None:
    module = {"path": "/src/lib.py", "var": None, "kind": "file", "sha256": "b" * 64, "size": 5, "mode": 0o755}
    module |= {"role": "python-local-module", "container_path": "/job/lib.py"}
    stored = [{"path": "data", "var": "DATA", "kind": "dir", "sha256": "a" * 64, "size": 3}, module]
    record = JobRecord.from_doc({"id": "j1", "project": "p", "inputs": stored})
    assert record.inputs == [
        InputRef("data", "DATA", "dir", "a" * 64, 3),
        InputRef("/src/lib.py", None, "file", "b" * 64, 5, 0o755, "python-local-module", "/job/lib.py"),
    ]
    assert record.to_doc()["inputs"][1] == module


def test_the_engine_of_a_job_round_trips_and_older_records_have_none(store: ObjectStore) -> None:
    js = JobStore(store, "proj")
    record = JobRecord(id=new_job_id(), project="proj", engine=EngineRef("ABCD:EF", "engine-a", "tcp://a:2376"))
    js.save(record)
    assert js.load(record.id).engine == EngineRef("ABCD:EF", "engine-a", "tcp://a:2376")
    raw = json.loads(store.get_bytes(f"projects/proj/jobs/{record.id}/record.json"))
    assert raw["engine"] == {"id": "ABCD:EF", "name": "engine-a", "url": "tcp://a:2376"}
    assert JobRecord.from_doc({"id": "j1", "project": "p"}).engine is None
    for broken in ("engine-a", {"name": "engine-a"}, {"id": ""}, {"id": 3}):
        assert JobRecord.from_doc({"id": "j1", "project": "p", "engine": broken}).engine is None


def test_save_overwrites(store: ObjectStore) -> None:
    js = JobStore(store, "proj")
    record = make_record(js)
    record.set_status(JobStatus.SUCCESS)
    js.save(record)
    assert js.load(record.id).status == JobStatus.SUCCESS


def test_list_newest_first_and_only_this_project(store: ObjectStore) -> None:
    js = JobStore(store, "proj")
    other = JobStore(store, "other")
    made = [make_record(js, name=f"job{i}") for i in range(4)]
    make_record(other)
    store.put_bytes(js.outputs_prefix(made[0].id) + "x.txt", b"an output, not a record")
    listed = js.list()
    assert [r.id for r in listed] == [r.id for r in reversed(made)]
    assert [r.name for r in listed] == ["job3", "job2", "job1", "job0"]
    assert js.list_ids() == [r.id for r in reversed(made)]


def test_missing_job_is_a_one_line_error_with_the_id(store: ObjectStore) -> None:
    js = JobStore(store, "proj")
    with pytest.raises(JobNotFound) as err:
        js.load("j20260101-000000000-abcdefgh")
    assert str(err.value).startswith("job j20260101-000000000-abcdefgh not found in project proj")
    assert isinstance(err.value, JobError) and isinstance(err.value, StoreError)
    with pytest.raises(JobNotFound, match="invalid job id"):
        js.load("../../etc")


@pytest.mark.parametrize("junk", ["\n", "\r\n", " ", "/x", "\x00"])
def test_a_job_id_with_trailing_junk_is_refused_not_found_under_another_name(store: ObjectStore, junk: str) -> None:
    js = JobStore(store, "proj")
    real = make_record(js)
    hostile = real.id + junk
    with pytest.raises(JobNotFound) as err:
        js.load(hostile)
    assert str(err.value) == f"invalid job id {hostile!r}: job ids are lowercase letters, digits and '-'"
    assert "\n" not in str(err.value)
    with pytest.raises(StoreError, match="invalid dataset id"):
        js.datasets_prefix("d1" + junk)


def test_list_ignores_a_stored_job_directory_whose_name_ends_in_a_newline(local_store: ObjectStore) -> None:
    # A directory anyone with access to a local store can make (moto refuses such a key, S3 would take it).
    js = JobStore(local_store, "proj")
    real = make_record(js)
    local_store.put_bytes(f"{js.jobs_prefix()}{real.id}\n/record.json", local_store.get_bytes(js.record_key(real.id)))
    assert js.list_ids() == [real.id]


def test_corrupt_record_is_reported_and_skipped_by_list(store: ObjectStore) -> None:
    js = JobStore(store, "proj")
    good = make_record(js)
    store.put_bytes(js.record_key("j20200101-000000000-broken00"), b"{oops")
    with pytest.raises(StoreError, match="is corrupt"):
        js.load("j20200101-000000000-broken00")
    assert [r.id for r in js.list()] == [good.id]


def test_set_data_ttl(store: ObjectStore) -> None:
    js = JobStore(store, "proj")
    record = make_record(js)
    before = utcnow()
    updated = js.set_data_ttl(record.id, 3)
    assert updated.data_expires_at is not None
    assert before + timedelta(days=3) <= updated.data_expires_at <= utcnow() + timedelta(days=3)
    assert js.load(record.id).data_expires_at == updated.data_expires_at
    assert js.set_data_ttl(record.id, None).data_expires_at is None
    assert js.load(record.id).data_expires_at is None
    with pytest.raises(StoreError, match="zero or more days"):
        js.set_data_ttl(record.id, -1)
    with pytest.raises(JobNotFound):
        js.set_data_ttl("j20200101-000000000-nothere0", 1)


def test_key_helpers(local_store: ObjectStore) -> None:
    js = JobStore(local_store, "proj")
    job = "j20260101-000000000-abcdefgh"
    assert js.job_prefix(job) == f"projects/proj/jobs/{job}/"
    assert js.outputs_prefix(job) == f"projects/proj/jobs/{job}/outputs/"
    assert js.logs_prefix(job) == f"projects/proj/jobs/{job}/logs/"
    assert js.log_key(job, "log.txt") == f"projects/proj/jobs/{job}/logs/log.txt"
    assert js.inputs_manifest_key(job) == f"projects/proj/jobs/{job}/inputs.json"
    assert js.datasets_prefix("ds-1") == "projects/proj/datasets/ds-1/"


def test_job_ids_are_unique_sortable_and_dns_safe(monkeypatch: pytest.MonkeyPatch) -> None:
    # 10 000 ids in a burst run the allocator seconds ahead of the clock (one millisecond each, strictly
    # increasing): the jobs later tests create in this process would look newer than jobs of other processes.
    monkeypatch.setattr("airflow_provider_dsjobs.jobs.store._last_ms", 0)
    ids = [new_job_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    pattern = re.compile(r"^[a-z][a-z0-9-]{0,29}$")
    assert all(pattern.match(i) and not i.endswith("-") for i in ids)


def test_list_ignores_job_dirs_without_a_record_and_stray_keys(store: ObjectStore) -> None:
    js = JobStore(store, "proj")
    record = make_record(js)
    store.put_bytes(js.logs_prefix("j20200101-000000000-norecord") + "log", b"half-created job")
    store.put_bytes(js.jobs_prefix() + "README", b"not a job")
    assert [r.id for r in js.list()] == [record.id]
