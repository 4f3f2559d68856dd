"""Output files as the Jobs page lists and streams them: from the committed manifest only, each under its
output, nothing outside the listed files, nothing after the data is cleared."""

from __future__ import annotations

import json

import pytest

from airflow_provider_dsjobs.documents.record import JobRecord
from airflow_provider_dsjobs.jobs.errors import JobError
from airflow_provider_dsjobs.jobs.output_files import OutputFile, list_output_files, open_output_file
from airflow_provider_dsjobs.jobs.store import JobStore
from airflow_provider_dsjobs.storage.base import ObjectStore
from tests.storage.stores import local_store, s3_store, store

__all__ = ["local_store", "s3_store", "store"]


def stored_job(store: ObjectStore, *, commit: bool = True) -> tuple[JobStore, JobRecord]:
    jobs = JobStore(store, "proj")
    record = JobRecord(id=jobs.new_job_id(), project="proj")
    prefix = jobs.outputs_prefix(record.id)
    files = {"vars/MODEL/model.bin": b"weights", "vars/REPORT/a/b.txt": b"report", "work/notes.txt": b"notes"}
    for path, data in files.items():
        store.put_bytes(prefix + path, data)
    record.outputs = {
        "MODEL": store.uri(prefix + "vars/MODEL/model.bin"),
        "REPORT": store.uri(prefix + "vars/REPORT"),
        "notes.txt": store.uri(prefix + "work/notes.txt"),
    }
    if commit:
        manifest = {"files": [{"path": p, "size": len(d), "sha256": "x"} for p, d in files.items()]}
        store.put_bytes(prefix + "manifest.json", json.dumps(manifest).encode())
    jobs.save(record)
    return jobs, record


def test_files_come_from_the_manifest_under_their_outputs(store: ObjectStore) -> None:
    jobs, record = stored_job(store)
    files = list_output_files(jobs, record)
    assert [(f.output, f.path, f.size) for f in files] == [
        ("MODEL", "vars/MODEL/model.bin", 7),
        ("REPORT", "vars/REPORT/a/b.txt", 6),
        ("notes.txt", "work/notes.txt", 5),
    ]
    item, reader = open_output_file(jobs, record, "vars/REPORT/a/b.txt")
    with reader:
        assert reader.read() == b"report"
    assert isinstance(item, OutputFile) and item.uri.endswith("/vars/REPORT/a/b.txt")


def test_uncommitted_outputs_list_nothing(store: ObjectStore) -> None:
    jobs, record = stored_job(store, commit=False)
    assert list_output_files(jobs, record) == []


@pytest.mark.parametrize("path", ["../record.json", "manifest.json", "vars/MODEL", "vars/MODEL/other.bin"])
def test_only_listed_files_open(store: ObjectStore, path: str) -> None:
    jobs, record = stored_job(store)
    with pytest.raises(JobError, match="has no output file"):
        open_output_file(jobs, record, path)


def test_cleared_data_lists_and_opens_nothing(store: ObjectStore) -> None:
    jobs, record = stored_job(store)
    record.data_cleared = True
    assert list_output_files(jobs, record) == []
    with pytest.raises(JobError, match="data is cleared"):
        open_output_file(jobs, record, "work/notes.txt")
