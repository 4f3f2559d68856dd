"""Project datasets on both store backends: create (manifest last), list with output datasets, get, remove
(refused while a live job reads it), and an interrupted create that leaves nothing readable."""

# ruff: noqa: F811  (store fixtures are redefined as test parameters)

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dsjobs.documents.record import JobRecord, JobStatus
from airflow_provider_dsjobs.jobs.store import JobStore
from airflow_provider_dsjobs.resources.datasets import DatasetCatalog, DatasetError, directory_files
from airflow_provider_dsjobs.storage.base import ObjectStore
from tests.storage.stores import local_store, s3_store, store  # noqa: F401  (fixtures)


def _tree(root: Path) -> Path:
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("alpha\n")
    (root / "sub" / "b.bin").write_bytes(b"\x00\x01" * 10)
    (root / "link.txt").symlink_to(root / "a.txt")  # not followed
    return root


def test_create_get_list_remove(store: ObjectStore, tmp_path: Path) -> None:
    catalog = DatasetCatalog(JobStore(store, "p1"))
    made = catalog.create("features", directory_files(_tree(tmp_path / "d")), source=str(tmp_path / "d"),
                          description="prep", labels={"stage": "prep"})  # fmt: skip
    assert len(made.id) == 20 and made.id.isalnum() and made.id.islower()
    assert (made.name, made.files, made.size, made.job_id) == ("features", 2, 26, None)
    got = catalog.get(made.id)
    assert got == made
    keys = sorted(i.key.rsplit("/", 1)[-1] for i in store.list(JobStore(store, "p1").datasets_prefix(made.id)))
    assert keys == ["a.txt", "b.bin", "manifest.json"]
    kept = catalog.create(
        "kept", iter([("x.txt", io.BytesIO(b"x"))]), source="test", dataset_id="bt1migrated0000000001"
    )
    assert kept.id == "bt1migrated0000000001"  # a migrating user keeps the IDs their configs name
    assert {d.id for d in catalog.all()} == {made.id, kept.id}
    assert DatasetCatalog(JobStore(store, "p2")).all() == []
    assert catalog.remove(made.id).name == "features"
    assert catalog.get(made.id) is None
    assert list(store.list(JobStore(store, "p1").datasets_prefix(made.id))) == []
    with pytest.raises(DatasetError, match=f"no dataset '{made.id}'"):
        catalog.remove(made.id)


def test_an_id_in_use_is_refused_before_anything_is_written(store: ObjectStore) -> None:
    catalog = DatasetCatalog(JobStore(store, "p1"))
    catalog.create("one", iter([("f", io.BytesIO(b"1"))]), source="t", dataset_id="dsone")
    with pytest.raises(DatasetError, match="dataset 'dsone' already exists"):
        catalog.create("two", iter([("g", io.BytesIO(b"2"))]), source="t", dataset_id="dsone")
    assert [f.rsplit("/", 1)[-1] for f in (i.key for i in store.list(JobStore(store, "p1").datasets_prefix("dsone")))] \
        == ["f", "manifest.json"]  # fmt: skip


def test_an_interrupted_create_is_invisible_and_replaced_by_the_next(store: ObjectStore) -> None:
    catalog = DatasetCatalog(JobStore(store, "p1"))

    def failing() -> Iterator[tuple[str, Any]]:
        yield "first.txt", io.BytesIO(b"1")
        raise OSError("disk went away")

    with pytest.raises(OSError):
        catalog.create("half", failing(), source="t", dataset_id="dshalf")
    assert catalog.get("dshalf") is None and catalog.all() == []
    done = catalog.create("whole", iter([("second.txt", io.BytesIO(b"2"))]), source="t", dataset_id="dshalf")
    assert done.files == 1
    names = [i.key.rsplit("/", 1)[-1] for i in store.list(JobStore(store, "p1").datasets_prefix("dshalf"))]
    assert sorted(names) == ["manifest.json", "second.txt"]  # the leftover is gone


def test_remove_is_refused_while_a_live_job_reads_the_dataset(store: ObjectStore) -> None:
    jobs = JobStore(store, "p1")
    catalog = DatasetCatalog(jobs)
    catalog.create("in-use", iter([("f", io.BytesIO(b"1"))]), source="t", dataset_id="dsused")
    record = JobRecord(id="j1", project="p1", status=JobStatus.EXECUTING, config={"datasets": [{"id": "dsused"}]})
    jobs.save(record)
    with pytest.raises(DatasetError, match=r"dataset 'dsused' is in use by 1 running job\(s\): j1 \(EXECUTING\)"):
        catalog.remove("dsused")
    record.status = JobStatus.SUCCESS
    jobs.save(record)
    assert catalog.remove("dsused").id == "dsused"
