"""An image is a job (seed 004): its own ENTRYPOINT/CMD/WORKDIR run unwrapped, params are env vars over its ENV
defaults, exit 0 is SUCCESS and any other code a failed job with that code; ``LAB_*`` variables; ``/data``
persists between runs of one job name; the job is an ordinary record (``ls``, logs, TTL). Real Docker engine."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dsjobs.documents.record import JobStatus
from airflow_provider_dsjobs.lab import LabError, LabJobConfig, LabJobHandler
from airflow_provider_dsjobs.settings import Settings


def _output(handler: LabJobHandler, job_id: str) -> list[str]:
    return [line for stream, line in handler.service.logs(job_id) if stream != "system"]


def test_image_runs_its_own_entrypoint_cmd_and_env_defaults(handler: LabJobHandler, lab_image: str) -> None:
    job = handler.run_job(LabJobConfig(image=lab_image, name="defaults"), check_status=True)
    assert (job.status, job.return_code) == (JobStatus.SUCCESS, 0)
    out = _output(handler, job.id)
    assert "args: --from-cmd" in out  # the image's CMD reached its ENTRYPOINT, no /bin/sh -c wrapping
    assert "cwd: /app" in out  # the image's WORKDIR
    assert "greeting: hello world" in out
    assert f"lab: {handler.settings.project} no-endpoint" in [line.strip() for line in out]


def test_params_override_env_defaults_and_exit_code_fails_the_job(handler: LabJobHandler, lab_image: str) -> None:
    config = LabJobConfig(image=lab_image, name="params", params={"TARGET": "lab", "EXIT_CODE": 3})
    job = handler.run_job(config, check_status=True)
    assert (job.status, job.return_code) == (JobStatus.ERROR, 3)
    assert "greeting: hello lab" in _output(handler, job.id)
    stored = handler.service.get(job.id)
    assert stored.kind == "lab" and stored.config["params"] == {"TARGET": "lab", "EXIT_CODE": "3"}
    assert [r.id for r in handler.service.list_jobs()] == [job.id]


def test_lab_endpoint_and_token_reach_the_job_but_not_the_record(
    lab_settings: Settings, lab_image: str, tmp_path: Path
) -> None:
    token = "lab-secret-token-4f1e"
    settings = dataclasses.replace(lab_settings, lab_endpoint="https://lab.example", lab_api_token=token)
    handler = LabJobHandler(settings, log=lambda *_: None)
    job = handler.run_job(LabJobConfig(image=lab_image, params={"API_TOKEN": "param-secret-77"}))
    assert job.status == JobStatus.SUCCESS
    assert f"lab: {settings.project} https://lab.example token-set" in _output(handler, job.id)
    stored = (tmp_path / "store").rglob("*.json")
    text = "".join(p.read_text() for p in stored)
    assert token not in text and "param-secret-77" not in text
    assert handler.service.get(job.id).config["params"] == {"API_TOKEN": "***"}
    assert job.name and job.name.startswith("job-")  # generated from the image name


def test_data_persists_between_runs_of_one_name(handler: LabJobHandler, lab_image: str, docker_client: Any) -> None:
    first = handler.run_job(LabJobConfig(image=lab_image, name="keeper"))
    second = handler.run_job(LabJobConfig(image=lab_image, name="keeper"))
    other = handler.run_job(LabJobConfig(image=lab_image, name="someone-else"))
    assert "runs before: 0" in _output(handler, first.id)
    assert "runs before: 1" in _output(handler, second.id)
    assert "runs before: 0" in _output(handler, other.id)
    from airflow_provider_dsjobs.lab.data import clear_data_volume, list_data_volumes

    runtime = handler.service.runtime
    assert sorted(list_data_volumes(runtime, handler.settings.project)) == ["keeper", "someone-else"]
    assert clear_data_volume(runtime, handler.settings.project, "keeper")
    third = handler.run_job(LabJobConfig(image=lab_image, name="keeper"))
    assert "runs before: 0" in _output(handler, third.id)


def test_check_status_false_returns_once_it_runs(handler: LabJobHandler, lab_image: str) -> None:
    job = handler.run_job(LabJobConfig(image=lab_image, params={"EXIT_CODE": "5"}), check_status=False)
    assert job.status == JobStatus.EXECUTING and job.return_code is None
    done = handler.service.wait(job.id)
    assert (done.status, done.return_code) == (JobStatus.ERROR, 5)


def test_unknown_image_is_one_line_and_the_record_says_why(handler: LabJobHandler) -> None:
    from airflow_provider_dsjobs.jobs.errors import JobError

    with pytest.raises(JobError, match="dsjobs-test-lab/absent:none") as info:
        handler.run_job(LabJobConfig(image="dsjobs-test-lab/absent:none", name="x"))
    assert "\n" not in str(info.value)
    (record,) = handler.service.list_jobs()
    assert record.status == JobStatus.ERROR and "absent" in (record.status_details or "")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"image": ""}, "is not an image reference"),
        ({"image": "a b"}, "is not an image reference"),
        ({"image": "x", "params": {"1BAD": "v"}}, "is not an environment variable name"),
        ({"image": "x", "params": {"A": object()}}, "expected a string or number"),
        ({"image": "x", "params": {"EXECUTE_CODE": "a"}, "execute_code": "b"}, "differ"),
        ({"image": "x", "requirements_only": True}, "requirements_only needs EXECUTE_CODE"),
    ],
)
def test_bad_config_is_one_line(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(LabError, match=message):
        LabJobConfig(**kwargs)


def test_record_is_plain_json(handler: LabJobHandler, lab_image: str) -> None:
    job = handler.run_job(LabJobConfig(image=lab_image, name="json"))
    data = json.loads(json.dumps(handler.service.get(job.id).to_doc()))
    assert data["kind"] == "lab" and data["image"] == lab_image and data["name"] == "json"


def test_an_image_job_hands_back_json_through_the_result_file(handler: LabJobHandler, lab_image: str) -> None:
    config = LabJobConfig(image=lab_image, params={"RESULT_VALUE": '{"rows": 10, "ok": true}'})
    job = handler.run_job(config, check_status=True)
    assert job.status == JobStatus.SUCCESS
    assert handler.service.read(job.id).result == {"rows": 10, "ok": True}
