"""Code baked into the image (the seed's custom-image flow): ``ENV EXECUTE_CODE=/workspace/ml-job`` in the image is
honoured, ``image:PATH`` names a path inside it explicitly, ``code_only`` skips the dependency files, and a param
may not override the image's internal ``_`` variables without saying so. Real Docker engine."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_dsjobs.documents.record import JobStatus
from airflow_provider_dsjobs.lab import LabError, LabJobConfig, LabJobHandler
from airflow_provider_dsjobs.lab.code import parse_code
from tests.lab.helpers import build_image

pytestmark = [pytest.mark.docker]

DOCKERFILE = """\
COPY ml-job /workspace/ml-job
ENV EXECUTE_CODE=/workspace/ml-job _RESOURCE_PATH=/workspace/resources
"""
FILES = {
    "ml-job/__main__.py": "import os\nprint('baked code ran; resources at', os.environ['_RESOURCE_PATH'])\n",
    "ml-job/other.py": "print('other script ran')\n",
    # offline and unknown: installing it fails, so a run that reaches the code skipped it
    "ml-job/requirements.txt": "dsjobs-no-such-package==0.0.1\n",
}


@pytest.fixture(scope="module")
def baked_image(docker_client: Any, test_image: str) -> Iterator[str]:
    tag = f"dsjobs-test-lab/baked:{uuid.uuid4().hex[:10]}"
    build_image(docker_client, test_image, tag, DOCKERFILE, FILES)
    yield tag
    with contextlib.suppress(Exception):
        docker_client.images.remove(tag, force=True)


def _output(handler: LabJobHandler, job_id: str) -> list[str]:
    return [line for stream, line in handler.service.logs(job_id) if stream != "system"]


def test_the_images_own_execute_code_runs_and_code_only_skips_its_dependencies(
    handler: LabJobHandler, baked_image: str
) -> None:
    job = handler.run_job(LabJobConfig(image=baked_image, code_only=True), check_status=True)
    assert job.status == JobStatus.SUCCESS, job.status_details
    assert "baked code ran; resources at /workspace/resources" in _output(handler, job.id)
    assert handler.service.read(job.id).config["execute_code"]["source"] == "image:/workspace/ml-job"
    # without code_only the dependency files run first (in this container): here pip cannot install the package
    failed = handler.run_job(LabJobConfig(image=baked_image), check_status=True)
    assert failed.status == JobStatus.ERROR
    assert "requirements.txt: pip failed" in (failed.status_details or "")


def test_image_path_names_code_inside_the_image(handler: LabJobHandler, baked_image: str) -> None:
    config = LabJobConfig(image=baked_image, execute_code="image:/workspace/ml-job/other.py", code_only=True)
    job = handler.run_job(config, check_status=True)
    assert job.status == JobStatus.SUCCESS and "other script ran" in _output(handler, job.id)
    missing = LabJobConfig(image=baked_image, params={"EXECUTE_CODE": "image:/nowhere/job"}, code_only=True)
    job = handler.run_job(missing, check_status=True)  # a param may name image code: it reaches nothing here
    assert job.status == JobStatus.ERROR and f"EXECUTE_CODE /nowhere/job is not in image {baked_image}" in (
        job.status_details or ""
    )


def test_a_hostile_image_path_stays_one_literal_path(handler: LabJobHandler, baked_image: str) -> None:
    hostile = "/workspace/x;echo INJECTED $(id) `id`"
    job = handler.run_job(
        LabJobConfig(image=baked_image, params={"EXECUTE_CODE": f"image:{hostile}"}, code_only=True), check_status=True
    )
    assert job.status == JobStatus.ERROR and f"EXECUTE_CODE {hostile} is not in image" in (job.status_details or "")
    assert not any(line.startswith("INJECTED") for line in _output(handler, job.id))  # quoted: never run


def test_a_param_may_not_override_an_internal_variable_without_saying_so(
    handler: LabJobHandler, baked_image: str
) -> None:
    config = LabJobConfig(image=baked_image, params={"_RESOURCE_PATH": "/tmp/mine"}, code_only=True)
    with pytest.raises(LabError, match=r"params _RESOURCE_PATH: image .* sets _RESOURCE_PATH in its ENV"):
        handler.run_job(config)
    assert handler.service.list_jobs() == []  # refused before anything was stored
    allowed = LabJobConfig(
        image=baked_image, params={"_RESOURCE_PATH": "/tmp/mine"}, code_only=True, allow_internal_params=True
    )
    job = handler.run_job(allowed, check_status=True)
    assert "baked code ran; resources at /tmp/mine" in _output(handler, job.id)
    # a "_" name the image does not set is the job's own
    own = handler.run_job(LabJobConfig(image=baked_image, params={"_MINE": "1"}, code_only=True), check_status=True)
    assert own.status == JobStatus.SUCCESS


@pytest.mark.parametrize("text", ["image:", "image:relative/path", "image:/a/../etc", "image:/a//b", "image:/a\nb"])
def test_hostile_image_paths_are_one_line_errors(text: str) -> None:
    with pytest.raises(LabError, match="image:PATH needs an absolute, normalized path inside the image"):
        parse_code(text, runtime=True)


def test_code_only_and_requirements_only_exclude_each_other() -> None:
    with pytest.raises(LabError, match="exclude each other"):
        LabJobConfig(image="x", execute_code="image:/a", code_only=True, requirements_only=True)
