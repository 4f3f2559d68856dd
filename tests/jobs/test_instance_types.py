"""Instance types on the real engine: which one is used and why, and the next one when the engine cannot start it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from airflow_provider_dsjobs.config import load_config
from airflow_provider_dsjobs.documents.record import JobStatus
from airflow_provider_dsjobs.jobs.service import JobError, JobService
from airflow_provider_dsjobs.runtime.engine import DockerEngine
from airflow_provider_dsjobs.settings import Settings
from tests.jobs.service_helpers import write_job

pytestmark = [pytest.mark.docker]


def test_a_type_the_engine_cannot_start_gives_way_to_the_next(
    local_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Fault: the engine claims a GPU runtime it does not have, so g1.1 is tried and the real start fails.
    real_info = DockerEngine.info
    monkeypatch.setattr(DockerEngine, "info", lambda self: dataclasses.replace(real_info(self), gpu_support=True))
    config = "cmd: nproc\ncloud-instance-types: [g1.1, c1.4]\n"
    service = JobService(local_settings)
    said: list[str] = []
    record = service.submit(load_config(write_job(tmp_path / "job", config)), notify=said.append)
    (container,) = service.runtime.find({"dsjobs.job_id": record.id})  # the one that failed to start is gone
    assert container.id == record.container_id
    done = service.wait(record.id)
    assert done.status == JobStatus.SUCCESS and done.instance_type == "c1.4"
    chosen = next(line for line in said if line.startswith("instance type g1.1 ("))
    assert "no instance type fits as asked; capped to" in chosen  # this engine is smaller than both: a message
    fallback = next(line for line in said if "could not start" in line)
    assert 'could not select device driver "nvidia"' in fallback and "trying c1.4 (" in fallback


def test_no_type_that_can_run_is_one_error_listing_each(local_settings: Settings, tmp_path: Path) -> None:
    config = "cmd: 'true'\ncloud-instance-types: [g1.1, g2.1]\n"
    service = JobService(local_settings)
    with pytest.raises(JobError) as caught:
        service.submit(load_config(write_job(tmp_path / "job", config)))
    message = str(caught.value)
    assert message.startswith("no instance type fits this Docker engine; tried g1.1: needs 1 GPU(s) (V100)")
    assert "; g2.1: needs 1 GPU(s) (A100)" in message
    (record,) = service.list_jobs()
    assert record.status == JobStatus.ERROR and record.status_details == message


def test_a_job_that_names_no_type_gets_the_engines_resources_quietly(local_settings: Settings, tmp_path: Path) -> None:
    service = JobService(local_settings)
    said: list[str] = []
    record = service.submit(load_config(write_job(tmp_path / "job", "cmd: df -k /dev/shm\n")), notify=said.append)
    host = service.runtime.engine.api.inspect_container(record.container_id)["HostConfig"]
    done = service.wait(record.id)
    assert done.status == JobStatus.SUCCESS and done.instance_type is None
    assert not [line for line in said if "instance type" in line or "capped" in line]
    assert (host["NanoCpus"], host["Memory"]) == (0, 0)  # no limits: what the engine has
    assert host["ShmSize"] == service.runtime.engine_info().memory_bytes // 2  # as on a VM, not Docker's 64 MB


def test_a_teams_own_type_from_the_catalog_file(
    local_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = tmp_path / "types.yaml"
    catalog.write_text("cpu.half: {cpus: 0.5, memory: 256Mi, shm: 100Mi}\n")
    monkeypatch.setenv("DSJOBS_INSTANCE_TYPES", str(catalog))
    settings = dataclasses.replace(local_settings, instance_catalog=Settings.from_env().instance_catalog)
    service = JobService(settings)
    said: list[str] = []
    config = load_config(write_job(tmp_path / "job", "cmd: nproc\ncloud-instance-types: [g2.1, cpu.half]\n"))
    record = service.submit(config, notify=said.append)
    host = service.runtime.engine.api.inspect_container(record.container_id)["HostConfig"]
    assert service.wait(record.id).instance_type == "cpu.half"
    assert (host["NanoCpus"], host["Memory"], host["ShmSize"]) == (500_000_000, 256 << 20, 100 << 20)
    line = next(line for line in said if line.startswith("instance type cpu.half ("))
    # fits, or capped when other jobs hold the shared engine now; the GPU type ahead of it is skipped with the reason
    assert line.endswith("; skipped g2.1: needs 1 GPU(s) (A100); the engine has no GPU support (no nvidia runtime)")
