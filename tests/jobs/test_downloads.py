"""``jobs/downloads.py`` on both store backends: which object lands in which local file, and the refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_dsjobs.jobs.downloads import download_files, plan_download
from airflow_provider_dsjobs.jobs.errors import JobError
from airflow_provider_dsjobs.jobs.plan import OutputPlacement
from airflow_provider_dsjobs.jobs.plan_doc import PlanDoc
from airflow_provider_dsjobs.jobs.record import JobRecord
from airflow_provider_dsjobs.jobs.store import JobStore
from airflow_provider_dsjobs.storage.base import ObjectStore
from tests.storage.stores import local_store, s3_store, store

__all__ = ["local_store", "s3_store", "store"]


def test_a_key_downloads_as_a_file_and_a_prefix_as_a_directory(store: ObjectStore, tmp_path: Path) -> None:
    store.put_bytes("out/work/result.csv", b"a,b\n")
    store.put_bytes("out/work/model/weights.bin", b"\x00\x01")
    store.put_bytes("out/work/model/cfg/params.json", b"{}")
    store.put_bytes("out/work/model-old/stale.bin", b"not part of model/")
    assert plan_download(store, "out/work/result.csv", tmp_path / "result.csv") == [
        ("out/work/result.csv", tmp_path / "result.csv", 4)
    ]
    assert sorted(plan_download(store, "out/work/model", tmp_path / "m")) == [
        ("out/work/model/cfg/params.json", tmp_path / "m" / "cfg" / "params.json", 2),
        ("out/work/model/weights.bin", tmp_path / "m" / "weights.bin", 2),
    ]
    assert plan_download(store, "out/work/absent", tmp_path / "absent") == []


def test_a_file_output_never_replaces_a_local_directory(store: ObjectStore, tmp_path: Path) -> None:
    store.put_bytes("out/result.csv", b"a,b\n")
    (tmp_path / "result.csv").mkdir()
    with pytest.raises(JobError, match=r"cannot download output to .*result.csv: it is a directory"):
        plan_download(store, "out/result.csv", tmp_path / "result.csv")


def test_outputs_land_at_their_config_paths_or_flattened(store: ObjectStore, tmp_path: Path) -> None:
    jobs = JobStore(store, "proj")
    record = JobRecord(id=jobs.new_job_id(), project="proj")
    prefix = jobs.outputs_prefix(record.id)
    store.put_bytes(f"{prefix}work/res/out.txt", b"result\n")
    store.put_bytes(f"{prefix}vars/TABLE/table.csv", b"x\n1\n")
    record.outputs = {"res/out.txt": "uri-1", "TABLE": "uri-2", "EMPTY": "uri-3"}
    cfg = tmp_path / "cfg"
    doc = PlanDoc(
        job_id=record.id,
        outputs=(
            OutputPlacement("res/out.txt", None, "/job/work/res/out.txt", cfg / "res" / "out.txt"),
            OutputPlacement("table.csv", "TABLE", "/job/outputs/TABLE/table.csv", cfg / "table.csv"),
            OutputPlacement("empty", "EMPTY", "/job/outputs/EMPTY/empty", cfg / "empty"),
            OutputPlacement("never.txt", None, "/job/work/never.txt", cfg / "never.txt"),
        ),
    )
    written = download_files(jobs, record, doc)
    assert sorted(written) == [tmp_path / "cfg" / "res" / "out.txt", tmp_path / "cfg" / "table.csv"]
    assert (tmp_path / "cfg" / "res" / "out.txt").read_bytes() == b"result\n"
    assert (tmp_path / "cfg" / "table.csv").read_bytes() == b"x\n1\n"
    assert (tmp_path / "cfg" / "empty").is_dir()  # an output directory the job left empty
    assert not (tmp_path / "cfg" / "never.txt").exists()  # not in record.outputs: the job did not write it

    flat = tmp_path / "flat"
    written = download_files(jobs, record, doc, output_dir=flat)
    assert sorted(written) == [flat / "out.txt", flat / "table.csv"]
    assert (flat / "out.txt").read_bytes() == b"result\n"
