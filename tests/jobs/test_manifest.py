"""``manifest.json`` as typed values: manifests written before the types existed still read, what is written now
is byte for byte what was written then, and a malformed one is a one-line error naming it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dsjobs.documents.record import JobRecord, JobStatus
from airflow_provider_dsjobs.jobs.manifest import read_outputs_manifest
from airflow_provider_dsjobs.jobs.output_files import list_output_files
from airflow_provider_dsjobs.jobs.stage_out import recover_from_manifest
from airflow_provider_dsjobs.jobs.store import JobStore
from airflow_provider_dsjobs.resources.datasets import DatasetCatalog, read_dataset_manifest
from airflow_provider_dsjobs.storage.base import StoreError
from airflow_provider_dsjobs.storage.local import LocalStore
from airflow_provider_dsjobs.storage.outputs import OutputWriter, manifest_key

JOB = "j20260101-000000000-abcdefgh"
#: An output manifest as stage-out wrote it before it was typed.
OUTPUTS_BEFORE: dict[str, Any] = {
    "job_id": JOB,
    "project": "p",
    "status": "ERROR",
    "status_details": "program exited with code 3",
    "logs": f"file:///s/projects/p/jobs/{JOB}/logs/log.txt",
    "data_size_bytes": 17,
    "return_code": 3,
    "outputs": [
        {
            "path": "res",
            "var": None,
            "container_path": "/job/work/res",
            "local_path": "/cfg/res",
            "uri": "URI",
        },
        {
            "path": "t.csv",
            "var": "TABLE",
            "container_path": "/job/outputs/TABLE/t.csv",
            "local_path": "/cfg/t.csv",
            "uri": None,
        },
    ],
    "missing_outputs": ["TABLE"],
    "output_datasets": {"rows": "ds0123456789abcdef01"},
    "files": [{"path": "work/res/a.txt", "sha256": "ab" * 32, "size": 12}],
    "s3_sync": [
        {
            "id": "m1",
            "url": "s3://b/p/",
            "uploaded_files": 1,
            "uploaded_bytes": 3,
            "unchanged_files": 2,
            "skipped": ["a link"],
            "error": None,
        },
    ],
}
#: Dataset manifests as ``dataset create`` and an output dataset wrote them.
CREATED_BEFORE: dict[str, Any] = {
    "id": "abcdefghij0123456789",
    "name": "features",
    "description": "prep",
    "labels": {"stage": "prep"},
    "size": 5,
    "job_id": None,
    "project": "p",
    "source": "/data/features",
    "created_at": "2026-01-01T00:00:00+00:00",
    "files": [{"path": "a.txt", "size": 5, "sha256": "cd" * 32}],
}
PUBLISHED_BEFORE: dict[str, Any] = {
    "id": "ds0123456789abcdef01",
    "name": "rows",
    "description": "",
    "labels": {},
    "size": 4,
    "declared_size": 1024,
    "job_id": JOB,
    "project": "p",
    "created_at": "2026-01-01T00:00:01+00:00",
    "files": [{"path": "part/rows.csv", "sha256": "ef" * 32, "size": 4}],
}


def _stored_before(jobs: JobStore, prefix: str, doc: dict[str, Any]) -> bytes:
    """Commit ``doc`` as the untyped writer did; returns the bytes stored."""
    OutputWriter(jobs.store, prefix).write_manifest(doc)
    return jobs.store.get_bytes(manifest_key(prefix.strip("/")))


@pytest.fixture
def jobs(tmp_path: Path) -> JobStore:
    return JobStore(LocalStore(tmp_path / "store"), "p")


def test_an_output_manifest_written_before_reads_typed_and_writes_the_same_bytes(jobs: JobStore) -> None:
    res_uri = jobs.store.uri(jobs.outputs_prefix(JOB) + "work/res")
    doc = dict(OUTPUTS_BEFORE, outputs=[dict(OUTPUTS_BEFORE["outputs"][0], uri=res_uri), OUTPUTS_BEFORE["outputs"][1]])
    before = _stored_before(jobs, jobs.outputs_prefix(JOB), doc)
    manifest = read_outputs_manifest(jobs, JOB)
    assert manifest is not None
    assert (manifest.status, manifest.return_code, manifest.data_size_bytes) == (JobStatus.ERROR, 3, 17)
    assert manifest.stored_outputs == {"res": res_uri}
    assert [(f.path, f.size) for f in manifest.files] == [("work/res/a.txt", 12)]

    jobs.store.delete(manifest_key(jobs.outputs_prefix(JOB).strip("/")))
    assert _stored_before(jobs, jobs.outputs_prefix(JOB), manifest.to_doc()) == before

    recovered = recover_from_manifest(jobs, JOB)
    assert recovered is not None and recovered.outcome == (JobStatus.ERROR, "program exited with code 3")
    record = JobRecord(id=JOB, project="p", status=JobStatus.EXECUTING, **recovered.record_fields())
    assert (record.outputs, record.missing_outputs, record.output_datasets) == (
        manifest.stored_outputs,
        ["TABLE"],
        {"rows": "ds0123456789abcdef01"},
    )
    assert (record.return_code, record.logs, record.data_size_bytes) == (3, OUTPUTS_BEFORE["logs"], 17)
    assert [(m.id, m.uploaded_files, m.skipped) for m in record.s3_sync] == [("m1", 1, ["a link"])]
    assert [(f.output, f.path, f.size) for f in list_output_files(jobs, record)] == [("res", "work/res/a.txt", 12)]


def test_an_output_manifest_from_before_read_write_mounts_still_reads(jobs: JobStore) -> None:
    _stored_before(jobs, jobs.outputs_prefix(JOB), {k: v for k, v in OUTPUTS_BEFORE.items() if k != "s3_sync"})
    manifest = read_outputs_manifest(jobs, JOB)
    assert manifest is not None and manifest.s3_sync == () and manifest.status == JobStatus.ERROR


@pytest.mark.parametrize("doc", [CREATED_BEFORE, PUBLISHED_BEFORE], ids=["created", "published"])
def test_a_dataset_manifest_written_before_reads_typed_and_writes_the_same_bytes(
    jobs: JobStore, doc: dict[str, Any]
) -> None:
    before = _stored_before(jobs, jobs.datasets_prefix(doc["id"]), doc)
    manifest = read_dataset_manifest(jobs, doc["id"])
    assert manifest is not None
    assert (manifest.name, manifest.size, manifest.job_id, len(manifest.files)) == (
        doc["name"],
        doc["size"],
        doc["job_id"],
        1,
    )
    assert (manifest.source, manifest.declared_size) == (doc.get("source"), doc.get("declared_size"))
    assert json.loads(before) == manifest.to_doc()
    jobs.store.delete(manifest_key(jobs.datasets_prefix(doc["id"]).strip("/")))
    assert _stored_before(jobs, jobs.datasets_prefix(doc["id"]), manifest.to_doc()) == before
    got = DatasetCatalog(jobs).get(doc["id"])
    assert got is not None and (got.name, got.files, got.source) == (doc["name"], 1, doc.get("source"))


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"status": 7}, "malformed"),
        ({"status": "DONE?"}, "malformed"),
        ({"files": [{"size": 3}]}, "missing key 'path'"),
        ({"files": 7}, "malformed"),
        ({"outputs": [{"path": "x"}]}, "missing key 'container_path'"),
        ({"output_datasets": ["rows"]}, "malformed"),
    ],
)
def test_a_malformed_output_manifest_is_one_line_naming_it(jobs: JobStore, change: dict[str, Any], why: str) -> None:
    _stored_before(jobs, jobs.outputs_prefix(JOB), dict(OUTPUTS_BEFORE, **change))
    with pytest.raises(StoreError) as err:
        read_outputs_manifest(jobs, JOB)
    message = str(err.value)
    assert "\n" not in message and why in message
    assert message.startswith(f"manifest {jobs.store.uri(manifest_key(jobs.outputs_prefix(JOB).strip('/')))}")
    record = JobRecord(id=JOB, project="p", status=JobStatus.EXECUTING)
    assert recover_from_manifest(jobs, JOB) is None  # not committed as far as a finalizer can tell
    with pytest.raises(StoreError, match="is corrupt"):
        list_output_files(jobs, record)


def test_a_malformed_dataset_manifest_is_one_line(jobs: JobStore) -> None:
    _stored_before(jobs, jobs.datasets_prefix("broken"), dict(CREATED_BEFORE, labels=["a"], id="broken"))
    with pytest.raises(StoreError, match=r"^manifest .*datasets/broken/manifest.json is corrupt: malformed"):
        DatasetCatalog(jobs).get("broken")
    good = DatasetCatalog(jobs).create("good", iter([]), source="test", dataset_id="good")
    reported: list[str] = []
    assert DatasetCatalog(jobs).all(on_unreadable=reported.append) == [good]  # the corrupt one hides nothing
    assert len(reported) == 1 and reported[0].startswith("dataset 'broken' left out: manifest ")
    assert "is corrupt: malformed" in reported[0]


def test_dataset_ls_lists_the_rest_and_warns_of_a_corrupt_manifest(
    jobs: JobStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from airflow_provider_dsjobs.cli.main import main

    _stored_before(jobs, jobs.datasets_prefix("broken"), dict(CREATED_BEFORE, labels=["a"], id="broken"))
    DatasetCatalog(jobs).create("good", iter([]), source="test", dataset_id="good")
    assert (
        main(["dataset", "ls", "--format", "json", "--store", str(tmp_path / "store"), "--project", jobs.project]) == 0
    )
    out, err = capsys.readouterr()
    assert [d["id"] for d in json.loads(out)] == ["good"]
    assert err.startswith("warning: dataset 'broken' left out: manifest ") and err.count("\n") == 1
