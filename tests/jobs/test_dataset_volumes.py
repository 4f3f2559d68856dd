"""Datasets used by ID are read-only volumes on the engine, filled once (``resources/dataset_volumes.py``), on a
real Docker engine with the local store."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dsjobs.config import load_config
from airflow_provider_dsjobs.documents.record import JobStatus
from airflow_provider_dsjobs.jobs.service import JobError, JobService
from airflow_provider_dsjobs.resources.dataset_volumes import (
    FILL_HELPER,
    DatasetFile,
    DatasetVolumeError,
    checked_files,
)
from airflow_provider_dsjobs.resources.datasets import DatasetCatalog, directory_files
from airflow_provider_dsjobs.settings import Settings
from tests.jobs.service_helpers import helpers_created, write_job

pytestmark = [pytest.mark.docker]

READER = """
cmd: |
  cat ${DS}/a.txt ${DS}/sub/b.txt
  ls -A ${DS}
  touch ${DS}/new.txt 2>&1 || echo write refused
datasets:
  - %s: DS
"""


@pytest.fixture()
def volumes_removed(docker_client: Any, local_settings: Settings) -> Iterator[None]:
    """Remove the test project's containers, then its volumes (the dataset caches the test filled)."""
    yield
    for project in (local_settings.project, local_settings.project + "-b"):
        flt = {"label": f"dsjobs.project={project}"}
        for c in docker_client.containers.list(all=True, filters=flt):
            with contextlib.suppress(Exception):
                c.remove(force=True)
        for v in docker_client.volumes.list(filters=flt):
            with contextlib.suppress(Exception):
                v.remove(force=True)


def _dataset(settings: Settings, tmp_path: Path, files: dict[str, str], dataset_id: str | None = None) -> str:
    src = tmp_path / f"src-{uuid.uuid4().hex[:6]}"
    for rel, text in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(text)
    catalog = DatasetCatalog(JobService(settings).jobs)
    return catalog.create("data", directory_files(src), source=str(src), dataset_id=dataset_id).id


def _run(settings: Settings, tmp_path: Path, ds_id: str) -> tuple[Any, list[str], list[str]]:
    service = JobService(settings)
    said: list[str] = []
    cfg = write_job(tmp_path / f"job-{uuid.uuid4().hex[:6]}", READER % ds_id)
    record = service.submit(load_config(cfg), notify=said.append)
    out: list[str] = []
    done = service.wait(record.id, log=lambda _s, line: out.append(line))
    return done, said, out


def _volume(docker_client: Any, project: str, ds_id: str) -> Any:
    found = docker_client.volumes.list(filters={"label": [f"dsjobs.project={project}", f"dsjobs.dataset={ds_id}"]})
    assert len(found) == 1, found
    return found[0]


def _in_volume(docker_client: Any, volume: str, script: str) -> str:
    out: bytes = docker_client.containers.run(
        "dsjobs-test/python:3.11",
        ["/bin/sh", "-c", script],
        volumes={volume: {"bind": "/v", "mode": "ro"}},
        remove=True,
    )
    return out.decode()


def test_first_run_fills_the_volume_second_reuses_it_read_only(
    local_settings: Settings, tmp_path: Path, docker_client: Any, volumes_removed: None
) -> None:
    ds_id = _dataset(local_settings, tmp_path, {"a.txt": "alpha\n", "sub/b.txt": "beta\n"})
    since = time.time() - 1
    first, said1, out1 = _run(local_settings, tmp_path, ds_id)
    assert first.status == JobStatus.SUCCESS, first.status_details
    assert out1[:2] == ["alpha", "beta"]
    assert "write refused" in out1 and any("Read-only file system" in line for line in out1)
    assert any("filled and verified" in s for s in said1), said1

    second, said2, out2 = _run(local_settings, tmp_path, ds_id)
    assert second.status == JobStatus.SUCCESS, second.status_details
    assert out2[:2] == ["alpha", "beta"]
    assert not any("filling" in s for s in said2) and any("ready, mounted read-only" in s for s in said2), said2
    assert helpers_created(docker_client, since, local_settings.project, FILL_HELPER) == 1

    volume = _volume(docker_client, local_settings.project, ds_id)
    assert volume.attrs["Labels"]["dsjobs.cache"] == "dataset" and volume.attrs["Labels"]["dsjobs.managed"] == "1"
    marker = json.loads(_in_volume(docker_client, volume.name, "cat /v/.dsjobs/ready"))
    assert marker["filled_by"] == first.id and marker["files"] == 2
    assert _in_volume(docker_client, volume.name, "ls /v; cat /v/sub/b.txt").split() == ["a.txt", "sub", "beta"]


def test_concurrent_starts_fill_the_volume_once(
    local_settings: Settings, tmp_path: Path, docker_client: Any, volumes_removed: None
) -> None:
    ds_id = _dataset(local_settings, tmp_path, {"a.txt": "alpha\n" * 50000, "sub/b.txt": "beta\n"})
    since = time.time() - 1
    results: list[Any] = []
    threads = [threading.Thread(target=lambda: results.append(_run(local_settings, tmp_path, ds_id))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert len(results) == 3
    for done, _said, out in results:
        assert done.status == JobStatus.SUCCESS, done.status_details
        assert out[0] == "alpha" and "beta" in out
    fills = [s for _, said, _ in results for s in said if "filled and verified" in s]
    assert len(fills) == 1, fills
    assert helpers_created(docker_client, since, local_settings.project, FILL_HELPER) == 1


def test_a_corrupt_store_blob_fails_the_fill_without_a_ready_marker_then_a_repaired_one_fills(
    local_settings: Settings, tmp_path: Path, docker_client: Any, volumes_removed: None
) -> None:
    ds_id = _dataset(local_settings, tmp_path, {"a.txt": "alpha\n", "sub/b.txt": "beta\n"})
    blob = tmp_path / "store" / "projects" / local_settings.project / "datasets" / ds_id / "sub" / "b.txt"
    assert blob.read_text() == "beta\n"
    blob.write_text("BETA\n")  # same size, other content
    with pytest.raises(JobError, match=r"stored file 'sub/b.txt' does not match its manifest .*corrupt"):
        _run(local_settings, tmp_path, ds_id)
    volume = _volume(docker_client, local_settings.project, ds_id)
    assert _in_volume(docker_client, volume.name, "test -e /v/.dsjobs/ready && echo ready || echo absent") == "absent\n"
    assert not docker_client.containers.list(
        all=True, filters={"label": f"dsjobs.helper={FILL_HELPER}", "name": volume.name}
    )

    blob.write_text("beta\n")
    done, said, out = _run(local_settings, tmp_path, ds_id)
    assert done.status == JobStatus.SUCCESS, done.status_details
    assert out[:2] == ["alpha", "beta"] and any("filled and verified" in s for s in said)


def test_another_project_never_mounts_the_volume(
    local_settings: Settings, tmp_path: Path, docker_client: Any, volumes_removed: None
) -> None:
    ds_id = _dataset(local_settings, tmp_path, {"a.txt": "alpha\n", "sub/b.txt": "beta\n"})
    other = replace(local_settings, project=local_settings.project + "-b")
    with pytest.raises(JobError, match=f"unknown dataset '{ds_id}'"):
        _run(other, tmp_path, ds_id)
    # the other project's own dataset of the same ID is its own volume, with its own content
    _dataset(other, tmp_path, {"a.txt": "other\n", "sub/b.txt": "files\n"}, dataset_id=ds_id)
    done_b, _, out_b = _run(other, tmp_path, ds_id)
    done_a, _, out_a = _run(local_settings, tmp_path, ds_id)
    assert (done_a.status, done_b.status) == (JobStatus.SUCCESS, JobStatus.SUCCESS)
    assert (out_a[:2], out_b[:2]) == (["alpha", "beta"], ["other", "files"])
    assert (
        _volume(docker_client, local_settings.project, ds_id).name != _volume(docker_client, other.project, ds_id).name
    )


def test_a_hostile_manifest_path_is_refused_before_any_container(
    local_settings: Settings, tmp_path: Path, volumes_removed: None
) -> None:
    ds_id = _dataset(local_settings, tmp_path, {"a.txt": "alpha\n"})
    manifest = tmp_path / "store" / "projects" / local_settings.project / "datasets" / ds_id / "manifest.json"
    doc = json.loads(manifest.read_text())
    doc["files"][0]["path"] = "../../etc/x"
    manifest.write_text(json.dumps(doc))
    with pytest.raises(JobError, match=r"lists the file '\.\./\.\./etc/x', which is not a plain relative path"):
        _run(local_settings, tmp_path, ds_id)


SHA = "0" * 64


@pytest.mark.parametrize(
    "path", ["../x", "/etc/passwd", "a/../../x", "a//b", "./a", "", "a\0b", ".dsjobs/ready", "x" * 5000]
)
def test_checked_files_refuses_paths_outside_the_dataset(path: str) -> None:
    with pytest.raises(DatasetVolumeError, match="not a plain relative path"):
        checked_files("ds1", [DatasetFile(path, SHA, 1)])


def test_checked_files_keeps_plain_paths_and_refuses_bad_hashes() -> None:
    files = [DatasetFile("a.txt", SHA, 1), DatasetFile("d/é b.bin", SHA, 0)]
    assert checked_files("ds1", files) == tuple(files)
    with pytest.raises(DatasetVolumeError, match="no valid SHA-256"):
        checked_files("ds1", [DatasetFile("a.txt", "zz", 1)])


def test_a_fill_lock_left_by_a_launch_that_is_over_is_taken_over(
    local_settings: Settings, tmp_path: Path, docker_client: Any, volumes_removed: None
) -> None:
    from airflow_provider_dsjobs.resources.dataset_volumes import DatasetVolume
    from airflow_provider_dsjobs.resources.datasets import read_dataset_manifest
    from airflow_provider_dsjobs.resources.fill_lock import LABEL_FILL_BY, LABEL_FILL_OF, lock_name

    service = JobService(local_settings)
    over = service.wait(service.submit(load_config(write_job(tmp_path / "over", "cmd: 'true'\n"))).id)
    ds_id = _dataset(local_settings, tmp_path, {"a.txt": "alpha\n", "sub/b.txt": "beta\n"})
    manifest = read_dataset_manifest(service.jobs, ds_id)
    assert manifest is not None
    files = tuple(DatasetFile(f.path, f.sha256, f.size) for f in manifest.files)
    name = DatasetVolume(local_settings.project, ds_id, "", manifest.created_at, files, "/x").name
    docker_client.containers.create(  # what a launcher killed mid-fill leaves behind
        "dsjobs-test/python:3.11",
        ["true"],
        name=lock_name(name),
        labels={
            "dsjobs.project": local_settings.project,
            "dsjobs.helper": FILL_HELPER,
            LABEL_FILL_OF: name,
            LABEL_FILL_BY: over.id,
        },
    )
    done, said, out = _run(local_settings, tmp_path, ds_id)
    assert done.status == JobStatus.SUCCESS, done.status_details
    assert out[:2] == ["alpha", "beta"]
    assert any("abandoned by its job" in s for s in said) and any("filled and verified" in s for s in said), said


def test_a_dataset_without_its_manifest_is_refused_not_copied(
    local_settings: Settings, tmp_path: Path, volumes_removed: None
) -> None:
    ds_id = _dataset(local_settings, tmp_path, {"a.txt": "alpha\n"})
    (tmp_path / "store" / "projects" / local_settings.project / "datasets" / ds_id / "manifest.json").unlink()
    with pytest.raises(JobError, match=f"dataset '{ds_id}' in project .* has no manifest: it was never completely"):
        _run(local_settings, tmp_path, ds_id)
