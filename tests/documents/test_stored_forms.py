"""Documents stored by the code before ``documents/`` existed still read, and what the new code stores reads the
same way back: each fixture under ``fixtures/`` holds the exact bytes that code wrote (``jobs/store.py``'s
``encode_record``, ``PlanDoc.to_json``, ``storage/outputs.py``'s ``write_manifest`` of ``to_json``).

``from_doc`` of the old bytes gives the values that were written, and ``to_doc`` gives the old object back key
for key (so a reader running the old code reads what the new code writes); records and manifests are even
byte-identical, since ``codec.encode`` is the format they were always written in."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from airflow_provider_dsjobs.documents.codec import decode, encode
from airflow_provider_dsjobs.documents.manifest import DatasetManifest, OutputsManifest
from airflow_provider_dsjobs.documents.mount_sync import MountSync, SyncMount
from airflow_provider_dsjobs.documents.plan_doc import OutputPlacement, PlanDoc
from airflow_provider_dsjobs.documents.record import ROLE_PYTHON_MODULE, EngineRef, JobRecord, JobStatus
from airflow_provider_dsjobs.documents.storage_grant import StorageGrant
from airflow_provider_dsjobs.jobs.store import JobStore
from airflow_provider_dsjobs.resources.datasets import read_dataset_manifest
from airflow_provider_dsjobs.storage.local import LocalStore

FIXTURES = Path(__file__).parent / "fixtures"


def _old(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_a_record_stored_by_the_old_code_reads_with_every_field(tmp_path: Path) -> None:
    jobs = JobStore(LocalStore(tmp_path / "store"), "team-a")
    record_id = "j20261121-103000123-abcd"
    jobs.store.put_bytes(jobs.record_key(record_id), _old("record.json"))
    record = jobs.load(record_id)
    assert (record.status, record.return_code, record.name) == (JobStatus.SUCCESS, 0, "train")
    assert record.finished_at == datetime(2026, 11, 21, 12, 30, tzinfo=timezone.utc)
    assert [(i.path, i.sha256[:1], i.mode, i.role) for i in record.inputs] == [
        ("data.csv", "a", 0o644, None),
        ("lib", "b", 0o755, ROLE_PYTHON_MODULE),
    ]
    assert [(h.status, h.by) for h in record.history] == [
        (JobStatus.CREATING, "submit"),
        (JobStatus.SUCCESS, "finalize"),
        (JobStatus.EXECUTING, None),
    ]
    grant = StorageGrant(150 * 2**30, "checked", 400 * 2**30, storage_driver="overlay2 on extfs", held_bytes=10 * 2**30)
    assert record.working_storage == grant
    assert record.s3_sync == [MountSync("m1", "s3://bucket/prefix", 2, 300, 1, ["skipped 'l': a symbolic link"])]
    assert record.engine == EngineRef("ENGINE:ID", "gpu-box", "tcp://gpu-box:2376")
    assert record.result == {"accuracy": 0.9}


def test_a_record_round_trips_to_the_bytes_the_old_code_wrote() -> None:
    old = _old("record.json")
    assert encode(JobRecord.from_doc(decode(old)).to_doc()) == old


def test_a_first_version_record_reads_with_defaults_for_what_it_lacks() -> None:
    record = JobRecord.from_doc(decode(_old("record-first-version.json")))
    assert (record.id, record.status, record.kind) == ("j-old", JobStatus.ERROR, "config")
    assert record.engine is None and record.working_storage is None and record.s3_sync == []
    assert record.history == [] and record.inputs == []  # an input entry without a hash names nothing to keep
    assert record.data_cleared_reason is None and record.progress is None


def test_a_plan_json_written_by_the_old_code_reads_and_writes_the_same_object() -> None:
    old = _old("plan.json")
    doc = PlanDoc.from_doc(decode(old))
    assert [o.key for o in doc.outputs] == ["model.bin", "TABLE"]
    assert doc.outputs[1] == OutputPlacement("t.csv", "TABLE", "/job/outputs/TABLE/t.csv", Path("/cfg/t.csv"))
    assert doc.output_datasets[0].labels == (("a", "b"),)
    assert doc.python is not None and doc.python.spec_json == b'{"requirements": ["numpy"]}'
    assert doc.python.notes == ("pinned numpy",) and doc.python.build_workdir == "/job/work"
    assert doc.s3_sync == (SyncMount("m1", "s3://bucket/prefix", "/job/s3/m1", True),)
    assert (doc.graceful_signal, doc.graceful_timeout, doc.python_failed_exit_code) == ("SIGUSR1", 90.0, 97)
    assert decode(encode(doc.to_doc())) == json.loads(old)  # what the old reader parsed, key for key


def test_an_outputs_manifest_written_by_the_old_code_reads_and_round_trips() -> None:
    old = _old("outputs-manifest.json")
    manifest = OutputsManifest.from_doc(decode(old))
    assert manifest.status == JobStatus.SUCCESS and manifest.return_code == 0
    assert manifest.stored_outputs == {"model.bin": "s3://b/p/out/model.bin"}
    assert manifest.missing_outputs == ("TABLE",) and manifest.files[0].size == 2048
    assert manifest.s3_sync[0].error == "AccessDenied"
    assert encode(manifest.to_doc()) == old


@pytest.mark.parametrize("name", ["dataset-manifest.json", "dataset-manifest-created.json"])
def test_a_dataset_manifest_written_by_the_old_code_reads_from_the_store_and_round_trips(
    name: str, tmp_path: Path
) -> None:
    old = _old(name)
    jobs = JobStore(LocalStore(tmp_path / "store"), "team-a")
    dataset_id = decode(old)["id"]
    jobs.store.put_bytes(jobs.datasets_prefix(dataset_id) + "manifest.json", old)
    manifest = read_dataset_manifest(jobs, dataset_id)
    assert isinstance(manifest, DatasetManifest) and manifest.project == "team-a"
    if manifest.job_id is None:  # a created dataset: where it came from, no declared size
        assert (manifest.source, manifest.declared_size, manifest.files) == ("/data/dir", None, ())
    else:
        assert (manifest.job_id, manifest.declared_size, manifest.labels) == ("j1", 4096, {"a": "b"})
    assert encode(manifest.to_doc()) == old


def test_decode_refuses_what_is_not_a_json_object_in_one_line() -> None:
    for data, why in ((b"[1]", "not a JSON object"), (b"{oops", "not valid JSON")):
        with pytest.raises(ValueError, match=why) as caught:
            decode(data)
        assert "\n" not in str(caught.value)
