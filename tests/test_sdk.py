"""The official SDK's surface (``SDK().fork_job``, ``SDK().get_job``, ``JobWrapper.done/.wait()/
.download_job_files()``) over a real Docker engine and a local store: a notebook ports by changing one import."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_dsjobs.config import load_config
from airflow_provider_dsjobs.jobs.errors import JobError
from airflow_provider_dsjobs.jobs.service import JobService
from airflow_provider_dsjobs.sdk import SDK
from airflow_provider_dsjobs.settings import Settings
from tests.jobs.service_helpers import write_job

pytestmark = [pytest.mark.docker]

JOB = """
name: sdk-source
cmd: echo "epochs=${EPOCHS}" > ${RESULT} && echo "trained ${EPOCHS}"
args:
  EPOCHS: "1"
outputs:
  - result.txt: RESULT
"""


@pytest.fixture()
def sdk(local_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> SDK:
    monkeypatch.setenv("DSJOBS_HOME", str(local_settings.home))
    monkeypatch.setenv("DSJOBS_DEFAULT_IMAGE", local_settings.default_image)
    monkeypatch.setenv("DSJOBS_STORE", str(local_settings.store_url))
    return SDK(oauth_token="ignored", project=local_settings.project)


def test_fork_wait_and_download_as_the_official_sdk_does(
    sdk: SDK, local_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    service = JobService(local_settings)
    source = service.submit(load_config(write_job(tmp_path / "job", JOB)))
    assert service.wait(source.id).status.value == "SUCCESS"

    job = sdk.fork_job(source.id, args={"EPOCHS": "7"}, name="retrain", cloud_instance_types=["c1.4"])
    assert job.id != source.id and job.job.name == "retrain"
    assert job.wait() is job
    assert job.done and job.status == "SUCCESS"
    assert "trained 7" in capsys.readouterr().out  # wait() shows the job's output, as the official SDK does

    again = sdk.get_job(job.id)
    assert again.done and again.id == job.id
    files = again.download_job_files(with_logs=True, output_dir=tmp_path / "out")
    names = {p.name for p in files}
    assert "result.txt" in names and f"{job.id}.log.txt" in names
    assert (tmp_path / "out" / "result.txt").read_text() == "epochs=7\n"


def test_bad_overrides_and_unknown_jobs_are_one_line_errors(sdk: SDK, local_settings: Settings, tmp_path: Path) -> None:
    service = JobService(local_settings)
    source = service.submit(load_config(write_job(tmp_path / "job", JOB)))
    service.wait(source.id)
    with pytest.raises(JobError, match="no argument `NOPE` in the config's `args`"):
        sdk.fork_job(source.id, args={"NOPE": "1"})
    with pytest.raises(JobError, match=r"overrides\.working_storage"):
        sdk.fork_job(source.id, working_storage="1Gb")
    with pytest.raises(JobError, match=r"env\.docker\.password: secret 'PW' not found"):
        sdk.fork_job(source.id, docker={"url": local_settings.default_image, "username": "u", "password": "PW"})
    with pytest.raises(JobError, match="not found"):
        sdk.get_job("j20990101-000000000-nothere0")
