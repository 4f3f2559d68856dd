"""``working-storage`` on the real engine: the free space of the engine's disk measured in a container, a request
that does not fit refused before any container of the job exists, ``warn`` running it anyway, and what the job got
in its record and in ``dsjobs get``."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dsjobs.cli.main import main
from airflow_provider_dsjobs.config.loader import load_config
from airflow_provider_dsjobs.documents.record import JobRecord, JobStatus
from airflow_provider_dsjobs.documents.storage_grant import StorageGrant
from airflow_provider_dsjobs.jobs.errors import JobError
from airflow_provider_dsjobs.jobs.service import JobService
from airflow_provider_dsjobs.jobs.working_storage import (
    can_limit_size,
    free_bytes_from_df,
    grant_working_storage,
    measure_free_bytes,
)
from airflow_provider_dsjobs.runtime.containers import ContainerSpec, Runtime
from airflow_provider_dsjobs.runtime.engine import EngineInfo
from airflow_provider_dsjobs.runtime.errors import RuntimeFailure
from airflow_provider_dsjobs.settings import Settings
from tests.jobs.service_helpers import write_job

pytestmark = [pytest.mark.docker]

GIB = 1 << 30
#: Other helpers write on the shared engine's disk between two measurements.
DRIFT = 1 << 30

#: DataSphere's largest working storage: more than any test machine's disk.
HUGE_JOB = """
name: wants-10tb
cmd: df -Pk . > df.txt
outputs:
  - df.txt
working-storage:
  size: 10240Gb
"""


def _df_in_container(docker_client: Any, image: str) -> int:
    out = docker_client.containers.run(image, ["df", "-Pk", "/"], remove=True)
    return free_bytes_from_df(out.decode().splitlines())


def _containers(docker_client: Any, project: str) -> list[Any]:
    return list(docker_client.containers.list(all=True, filters={"label": f"dsjobs.project={project}"}))


def test_free_space_is_what_df_in_a_container_on_the_engine_reports(
    local_settings: Settings, docker_client: Any, test_image: str
) -> None:
    runtime = Runtime.connect(local_settings)
    measured = measure_free_bytes(runtime, test_image, {"dsjobs.project": local_settings.project})
    assert abs(measured - _df_in_container(docker_client, test_image)) < DRIFT
    assert _containers(docker_client, local_settings.project) == []  # the helper is gone


def test_a_request_that_fits_is_granted_as_checked(local_settings: Settings, test_image: str) -> None:
    runtime = Runtime.connect(local_settings)
    info = runtime.engine_info()
    notes: list[str] = []
    grant, opt = grant_working_storage(
        runtime, test_image, GIB, {"dsjobs.project": local_settings.project}, "fail", notes.append
    )
    if can_limit_size(info):  # an engine on xfs+pquota, btrfs, zfs: the container is capped
        assert (grant.mode, grant.limit_bytes, opt) == ("size-limit", GIB, {"size": str(GIB)})
    else:
        assert (grant.mode, grant.limit_bytes, opt) == ("checked", None, None)
        assert grant.free_bytes is not None and grant.free_bytes >= GIB
        assert info.storage_driver in grant.storage_driver


def test_a_request_larger_than_the_engines_disk_fails_with_one_line_and_no_container(
    local_settings: Settings,
    tmp_path: Path,
    docker_client: Any,
    test_image: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    service = JobService(local_settings)
    if can_limit_size(service.runtime.engine_info()):
        pytest.fail("this engine caps containers: the refusal below is for engines that cannot (overlay2 on extfs)")
    free = _df_in_container(docker_client, test_image)
    with pytest.raises(JobError) as caught:
        service.submit(load_config(write_job(tmp_path / "job", HUGE_JOB)))
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("working-storage asks for 10.0 TiB but the Docker engine's disk has ")
    shown_free = float(message.split("disk has ")[1].split(" GiB free")[0])
    assert abs(shown_free * GIB - free) < DRIFT + GIB / 10
    assert "DSJOBS_WORKING_STORAGE_CHECK=warn" in message
    [record] = service.list_jobs()
    assert record.status == JobStatus.ERROR and record.status_details == message
    assert record.working_storage is None and record.container_id is None
    assert _containers(docker_client, local_settings.project) == []

    monkeypatch.setenv("DSJOBS_HOME", str(local_settings.home))
    monkeypatch.setenv("DSJOBS_DEFAULT_IMAGE", test_image)
    capsys.readouterr()
    cfg = tmp_path / "job" / "config.yaml"
    assert (
        main(["execute", "-c", str(cfg), "--store", str(local_settings.store_url), "--project", local_settings.project])
        == 1
    )
    assert capsys.readouterr().err.splitlines()[-1].startswith("dsjobs: working-storage asks for 10.0 TiB but ")


def test_warn_runs_the_job_and_the_record_says_what_was_free(
    local_settings: Settings,
    tmp_path: Path,
    docker_client: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = dataclasses.replace(local_settings, working_storage_check="warn")
    service = JobService(settings)
    notes: list[str] = []
    record = service.submit(load_config(write_job(tmp_path / "job", HUGE_JOB)), notify=notes.append)
    labels = docker_client.containers.get(record.container_id).labels
    assert labels["dsjobs.working-storage"] == str(10240 * GIB)  # what a job starting meanwhile counts as held
    done = service.wait(record.id)
    assert done.status == JobStatus.SUCCESS, done.status_details
    grant = done.working_storage
    assert grant is not None and (grant.mode, grant.requested_bytes, grant.path) == (
        "unchecked",
        10240 * GIB,
        "/job/work",
    )
    assert any(n.startswith("warning: working-storage asks for 10.0 TiB") for n in notes)
    key = done.outputs["df.txt"][len(service.store.url.rstrip("/")) + 1 :]
    in_job = free_bytes_from_df(service.store.get_bytes(key).decode().splitlines())  # df of /job/work in the job
    assert grant.free_bytes is not None and abs(grant.free_bytes - in_job) < DRIFT

    monkeypatch.setenv("DSJOBS_HOME", str(settings.home))
    common = ["--store", str(settings.store_url), "--project", settings.project]
    capsys.readouterr()
    assert main(["get", "--id", done.id, *common]) == 0
    assert (
        "working storage 10.0 TiB at /job/work: NOT available (working_storage_check=warn)" in capsys.readouterr().out
    )
    assert main(["get", "--id", done.id, "--format", "json", *common]) == 0
    shown = json.loads(capsys.readouterr().out)["working_storage"]
    assert shown == grant.to_doc()


def test_space_granted_to_a_running_job_is_not_counted_twice(
    local_settings: Settings, docker_client: Any, test_image: str
) -> None:
    runtime = Runtime.connect(local_settings)
    labels = {"dsjobs.project": local_settings.project}
    notes: list[str] = []
    requested = _df_in_container(docker_client, test_image) - 10 * GIB  # fits, with room for other writers
    grant, _ = grant_working_storage(runtime, test_image, requested, labels, "fail", notes.append)
    assert grant.held_bytes == 0
    holder = docker_client.containers.run(
        test_image, ["sleep", "60"], detach=True, labels={**labels, "dsjobs.working-storage": str(20 * GIB)}
    )
    try:
        with pytest.raises(JobError, match=r"free, 20\.0 GiB of it held by 1 running job\(s\)' working storage"):
            grant_working_storage(runtime, test_image, requested, labels, "fail", notes.append)
    finally:
        holder.remove(force=True)
    assert grant_working_storage(runtime, test_image, requested, labels, "fail", notes.append)[0].held_bytes == 0


def test_an_image_without_df_fails_the_check_with_one_line_or_runs_unchecked_with_warn(
    local_settings: Settings, docker_client: Any
) -> None:
    import io
    import uuid

    tag = f"dsjobs-test/no-df:{uuid.uuid4().hex[:8]}"
    docker_client.images.build(fileobj=io.BytesIO(b"FROM scratch\nLABEL dsjobs.test=no-df\n"), tag=tag, rm=True)
    runtime = Runtime.connect(local_settings)
    labels = {"dsjobs.project": local_settings.project}
    notes: list[str] = []
    try:
        with pytest.raises(JobError) as caught:
            grant_working_storage(runtime, tag, GIB, labels, "fail", notes.append)
        message = str(caught.value)
        assert "\n" not in message
        assert message.startswith(
            f"working-storage: cannot measure the Docker engine's free space with df in image {tag}: "
        )
        assert message.endswith("use an image that has df, or set DSJOBS_WORKING_STORAGE_CHECK=warn to run unchecked")
        grant, opt = grant_working_storage(runtime, tag, GIB, labels, "warn", notes.append)
        assert (grant.mode, grant.free_bytes, opt) == ("unchecked", None, None)
        assert notes and notes[-1].startswith("warning: working-storage: cannot measure")
        assert _containers(docker_client, local_settings.project) == []  # the helpers are gone
    finally:
        docker_client.images.remove(tag, force=True)


class _RefusesSizeLimits(Runtime):
    """The real engine, except that it looks like overlay2 on xfs without ``pquota``: a container created with a
    size limit is refused with the engine's own message (the fault injected here)."""

    def engine_info(self) -> EngineInfo:
        return dataclasses.replace(
            super().engine_info(), storage_driver="overlay2", driver_status=(("Backing Filesystem", "xfs"),)
        )

    def create(self, spec: ContainerSpec) -> str:
        if spec.storage_opt:
            raise RuntimeFailure(
                "cannot create a container from x: --storage-opt is supported only for overlay over xfs "
                "with 'pquota' mount option"
            )
        return super().create(spec)


def test_an_engine_refusing_the_size_limit_falls_back_to_the_free_space_check(
    local_settings: Settings, test_image: str
) -> None:
    runtime = _RefusesSizeLimits(Runtime.connect(local_settings).engine)
    notes: list[str] = []
    grant, opt = grant_working_storage(
        runtime, test_image, GIB, {"dsjobs.project": local_settings.project}, "fail", notes.append
    )
    assert (grant.mode, opt, grant.storage_driver) == ("checked", None, "overlay2 on xfs")
    assert any("refused a size limit" in n and "pquota" in n for n in notes)


@pytest.mark.parametrize(
    ("driver", "status", "limited"),
    [
        ("overlay2", (("Backing Filesystem", "extfs"),), False),
        ("overlay2", (("Backing Filesystem", "xfs"),), True),
        ("btrfs", (), True),
        ("zfs", (("Zpool", "tank"),), True),
        ("vfs", (), False),
    ],
)
def test_which_storage_drivers_can_cap_a_container(
    driver: str, status: tuple[tuple[str, str], ...], limited: bool
) -> None:
    info = EngineInfo(
        cpus=2,
        memory_bytes=GIB,
        gpu_support=False,
        runtimes=(),
        server_version="27",
        storage_driver=driver,
        driver_status=status,
    )
    assert can_limit_size(info) is limited


def test_the_grant_survives_the_record_round_trip() -> None:
    grant = StorageGrant(100 * GIB, "checked", 300 * GIB, storage_driver="overlay2 on extfs")
    record = JobRecord(id="j1", project="p", working_storage=grant)
    assert JobRecord.from_doc(json.loads(json.dumps(record.to_doc()))).working_storage == grant
    assert JobRecord.from_doc({"id": "j2", "project": "p"}).working_storage is None
