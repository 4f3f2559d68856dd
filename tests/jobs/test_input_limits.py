"""The input limits are settings: a job whose input is over ``DSJOBS_MAX_INPUT_FILE_SIZE`` or whose inputs add up
to more than ``DSJOBS_MAX_JOB_INPUT_SIZE`` fails its submit in one line before anything is uploaded; a raised
limit lets the same job run."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from airflow_provider_dsjobs.config import load_config
from airflow_provider_dsjobs.documents.record import JobStatus
from airflow_provider_dsjobs.jobs.errors import JobError
from airflow_provider_dsjobs.jobs.service import JobService
from airflow_provider_dsjobs.settings import Settings
from tests.jobs.service_helpers import write_job

JOB = """
name: limited
cmd: cat ${A} ${B} | wc -c > ${RESULT}
inputs:
  - a.txt: A
  - b.txt: B
outputs:
  - result.txt: RESULT
"""
FILES = {"a.txt": "a" * 3000, "b.txt": "b" * 3000}


def test_the_limits_are_settings_with_datasphere_defaults() -> None:
    settings = Settings.from_env({})
    assert (settings.max_input_file_size, settings.max_job_input_size) == (5 << 30, 10 << 30)
    raised = Settings.from_env({"DSJOBS_MAX_INPUT_FILE_SIZE": "20GB", "DSJOBS_MAX_JOB_INPUT_SIZE": "1.5TB"})
    assert (raised.max_input_file_size, raised.max_job_input_size) == (20 << 30, int(1.5 * (1 << 40)))
    assert Settings.from_env({"DSJOBS_MAX_INPUT_FILE_SIZE": "2048"}).max_input_file_size == 2048


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("DSJOBS_MAX_INPUT_FILE_SIZE", "5G", "the unit is `GB`"),
        ("DSJOBS_MAX_JOB_INPUT_SIZE", "lots", "is not a size"),
        ("DSJOBS_MAX_JOB_INPUT_SIZE", "-1GB", "is not a size"),
        ("DSJOBS_MAX_INPUT_FILE_SIZE", "0", "must be a size above zero"),
        ("DSJOBS_MAX_INPUT_FILE_SIZE", "$(reboot)\n5GB", "is not a size"),
    ],
)
def test_a_bad_limit_is_one_line_naming_the_variable(name: str, value: str, says: str) -> None:
    with pytest.raises(ValueError) as caught:
        Settings.from_env({name: value})
    message = str(caught.value)
    assert message.startswith(f"{name}") and says in message and "\n" not in message


@pytest.mark.docker
def test_a_lowered_file_limit_refuses_and_a_raised_one_accepts(local_settings: Settings, tmp_path: Path) -> None:
    cfg = write_job(tmp_path / "job", JOB, FILES)
    service = JobService(dataclasses.replace(local_settings, max_input_file_size=2000))
    with pytest.raises(JobError) as caught:
        service.submit(load_config(cfg))
    assert str(caught.value) == (
        f"input file {tmp_path / 'job' / 'a.txt'} is 2.9 KiB, over the limit of 2.0 KiB per file"
    )
    assert list(service.jobs.store.list(f"projects/{local_settings.project}/blobs/")) == []  # nothing uploaded
    service.close()
    service = JobService(dataclasses.replace(local_settings, max_input_file_size=4000))
    record = service.submit(load_config(cfg))
    assert service.wait(record.id).status == JobStatus.SUCCESS
    service.close()


@pytest.mark.docker
def test_a_lowered_job_limit_refuses_and_a_raised_one_accepts(local_settings: Settings, tmp_path: Path) -> None:
    cfg = write_job(tmp_path / "job", JOB, FILES)
    service = JobService(dataclasses.replace(local_settings, max_job_input_size=5000))
    with pytest.raises(JobError) as caught:
        service.submit(load_config(cfg))
    message = str(caught.value)
    assert message.startswith("inputs total 5.9 KiB") and message.endswith("over the limit of 4.9 KiB")
    assert "\n" not in message
    service.close()
    service = JobService(dataclasses.replace(local_settings, max_job_input_size=6000))
    record = service.submit(load_config(cfg))
    assert service.wait(record.id).status == JobStatus.SUCCESS
    service.close()
