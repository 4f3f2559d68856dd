"""Plan an ML Lab job: a ``LabJobConfig`` (and its resolved code) becomes the core's ``JobPlan``.

An image-only job keeps the image's ENTRYPOINT, CMD and WORKDIR: nothing is wrapped in ``/bin/sh -c`` and
nothing is copied in. A code job (``EXECUTE_CODE``) stages the code at ``/job/code`` like any input and replaces
the entrypoint with the runner (``lab/runner.py``). Environment: the image's ``ENV``, then ``LAB_PROJECT`` (and
``LAB_ENDPOINT`` / ``LAB_API_TOKEN`` when the settings define them), ``DSJOBS_JOB_ID``/``_NAME``/``PROJECT``,
then the params, which win. A named job gets its ``/data`` volume (``lab/data.py``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import posixpath
from collections.abc import Mapping
from pathlib import Path

from airflow_provider_dsjobs.config.instance_types import InstanceType
from airflow_provider_dsjobs.config.model import PipOptions
from airflow_provider_dsjobs.documents.plan_doc import PythonSetup
from airflow_provider_dsjobs.jobs.plan import (
    DEFAULT_GRACEFUL_TIMEOUT,
    ExtraBytes,
    InputPlacement,
    JobPlan,
    PlanError,
    connection_registry_credentials,
    instance_profiles,
)
from airflow_provider_dsjobs.jobs.result_file import RESULT_DIR, RESULT_ENV, RESULT_PATH
from airflow_provider_dsjobs.lab.code import ResolvedCode
from airflow_provider_dsjobs.lab.config import EXECUTE_CODE, LabError, LabJobConfig
from airflow_provider_dsjobs.lab.data import DATA_DIR, data_volume_labels, data_volume_name
from airflow_provider_dsjobs.lab.runner import CONDA_HIT, CONDA_READY, build_script, image_code_script, runner_script
from airflow_provider_dsjobs.pyenv.cached_env import cached_env, key_for, volume_for
from airflow_provider_dsjobs.pyenv.container_build import EXIT_ENV_FAILED
from airflow_provider_dsjobs.pyenv.plan import DEFAULT_VOLUME_MOUNT
from airflow_provider_dsjobs.runtime.labels import LABEL_JOB_ID, LABEL_PROJECT
from airflow_provider_dsjobs.runtime.shell import shell_command
from airflow_provider_dsjobs.settings import Settings

CODE_DIR = "/job/code"
SUPPORT_DIR = "/job/.dsjobs"
FAILED_MARKER = f"{SUPPORT_DIR}/lab-failed.txt"
#: Where the build step's output is put for the job to show.
BUILD_LOG = f"{SUPPORT_DIR}/lab-build.log"
#: Label telling a job's container and record apart as an ML Lab job.
LABEL_LAB = "dsjobs.lab"
DEPENDENCY_FILES = ("environment.yml", "setup.sh", "requirements.txt")


def lab_env(settings: Settings, project: str) -> dict[str, str]:
    """The ``LAB_*`` variables a job written for ML Lab expects."""
    env = {"LAB_PROJECT": project}
    if settings.lab_endpoint:
        env["LAB_ENDPOINT"] = settings.lab_endpoint
    if settings.lab_api_token:
        env["LAB_API_TOKEN"] = settings.lab_api_token
    return env


def plan_lab_job(
    config: LabJobConfig,
    code: ResolvedCode | None,
    settings: Settings,
    *,
    job_id: str,
    name: str,
    project: str,
    labels: Mapping[str, str] | None = None,
) -> JobPlan:
    env = lab_env(settings, project)
    registry_username, registry_password = connection_registry_credentials(settings, config.image)
    env.update({"DSJOBS_JOB_ID": job_id, "DSJOBS_JOB_NAME": name, "DSJOBS_PROJECT": project})
    env[RESULT_ENV] = RESULT_PATH
    volumes: dict[str, dict[str, str]] = {}
    volume_labels: dict[str, dict[str, str]] = {}
    if config.name:
        volume = data_volume_name(project, name)
        volumes[volume] = {"bind": DATA_DIR, "mode": "rw"}
        volume_labels[volume] = data_volume_labels(project, name)
    all_labels = {str(k): str(v) for k, v in (labels or {}).items()}
    all_labels.update({LABEL_JOB_ID: job_id, LABEL_PROJECT: project, LABEL_LAB: "1"})
    image_job = JobPlan(
        job_id=job_id,
        project=project,
        name=name,
        image=config.image,
        registry_username=registry_username,
        registry_password=registry_password,
        script="",
        command=(),
        env={**env, **config.env_params},
        labels=all_labels,
        instance_types=_instance_types(config, settings),
        graceful_signal="SIGTERM",  # what `docker stop` sends: images written for ML Lab expect it
        graceful_timeout=DEFAULT_GRACEFUL_TIMEOUT,
        inputs=(),
        outputs=(),
        extra_files=(),
        extra_bytes=(),
        datasets=(),
        s3_mounts=(),
        output_datasets=(),
        directories=(RESULT_DIR,),  # where the job may write its result (jobs/result_file.py)
        volumes=volumes,
        python=None,
        workdir="",
        volume_labels=volume_labels,
    )
    return image_job if code is None else _code_plan(config, code, image_job, env, project)


def _instance_types(config: LabJobConfig, settings: Settings) -> tuple[InstanceType, ...]:
    try:
        return instance_profiles(config.cloud_instance_types, settings, "ML Lab job")
    except PlanError as exc:
        raise LabError(str(exc)) from None


def _code_plan(
    config: LabJobConfig, code: ResolvedCode, image_job: JobPlan, env: dict[str, str], project: str
) -> JobPlan:
    """``image_job`` turned into one that stages ``code`` and runs it through the runner; its cached dependencies
    (``environment.yml``, ``requirements.txt``) are the project's, built by the build step (``lab/runner.py``)."""
    if code.entry == "image":
        return _image_code_plan(config, code, image_job, env)
    is_dir = code.entry == "dir"
    target = CODE_DIR if is_dir else posixpath.join(CODE_DIR, code.root.name)
    env = {**env, "PYTHONUNBUFFERED": "1", EXECUTE_CODE: target, **config.env_params}
    deps = {name: is_dir and not config.code_only and (code.root / name).is_file() for name in DEPENDENCY_FILES}
    conda_env, extra_key = None, ""
    if deps["environment.yml"]:
        digest = hashlib.sha256((code.root / "environment.yml").read_bytes()).hexdigest()
        conda_env, extra_key = f"{DEFAULT_VOLUME_MOUNT}/conda-{digest[:32]}", f"#conda={digest}"
    extra: list[ExtraBytes] = []
    volume_name, volume_labels, ready = "", {}, None
    requirements_build = requirements_activate = None
    hits = [CONDA_HIT] if conda_env is not None else []
    if deps["requirements.txt"]:
        requirements, pip = _requirements(code.root / "requirements.txt", code)
        env_plan = cached_env(
            config.image,
            requirements,
            pip,
            project=project,
            support_dir=SUPPORT_DIR,
            failed_marker=FAILED_MARKER,
            extra_key=extra_key,
        )
        extra += [ExtraBytes(path, content) for path, content in env_plan.container_files]
        requirements_build, requirements_activate = env_plan.build_command, env_plan.activate_command
        volume_name, volume_labels, ready = env_plan.volume_name, env_plan.volume_labels, env_plan.ready_path
        hits.append(f"dsjobs-pyenv: environment cache hit ({env_plan.env_hash[:16]})")
    elif conda_env is not None:
        volume_name, volume_labels = volume_for(key_for(config.image, extra_key), config.image, project)
        ready = f"{conda_env}/{CONDA_READY}"
    volumes = dict(image_job.volumes)
    if volume_name:  # read-only: only the build step writes the environment
        volumes[volume_name] = {"bind": DEFAULT_VOLUME_MOUNT, "mode": "ro"}
    script = runner_script(
        workdir=CODE_DIR,
        entry=None if config.requirements_only else target,
        image=config.image,
        failed_marker=FAILED_MARKER,
        conda_env=conda_env,
        setup_sh=deps["setup.sh"],
        requirements_activate=requirements_activate,
        ready=ready,
        build_log=BUILD_LOG,
        hit_message="\n".join(hits),
    )
    build = ""
    if ready is not None:
        build = build_script(
            workdir=CODE_DIR,
            image=config.image,
            failed_marker=FAILED_MARKER,
            conda_env=conda_env,
            requirements_build=requirements_build,
        )
    return dataclasses.replace(
        image_job,
        script=script,
        entrypoint=tuple(shell_command(script)),
        env=env,
        inputs=(InputPlacement(code.spec.text, None, code.root, target, is_dir),),
        extra_bytes=tuple(extra),
        directories=(CODE_DIR, SUPPORT_DIR),
        volumes=volumes,
        python=PythonSetup(
            volume_name=volume_name,
            volume_mount=DEFAULT_VOLUME_MOUNT,
            volume_labels=volume_labels,
            failed_marker=FAILED_MARKER,
            failed_exit_code=EXIT_ENV_FAILED,
            build_command=build,
            build_workdir=CODE_DIR,
            ready_path=ready or "",
            build_log=BUILD_LOG,
            build_with_inputs=True,
        ),
        workdir=CODE_DIR,
    )


def _image_code_plan(config: LabJobConfig, code: ResolvedCode, image_job: JobPlan, env: dict[str, str]) -> JobPlan:
    """``image_job`` running code that is already in its image: nothing staged, the runner runs it there."""
    path = str(code.spec.image_path)
    script = image_code_script(path=path, image=config.image, failed_marker=FAILED_MARKER, code_only=config.code_only)
    return dataclasses.replace(
        image_job,
        script=script,
        entrypoint=tuple(shell_command(script)),
        env={**env, "PYTHONUNBUFFERED": "1", EXECUTE_CODE: path, **config.env_params},
        directories=(SUPPORT_DIR,),
        python=PythonSetup(
            volume_name="",
            volume_mount=DEFAULT_VOLUME_MOUNT,
            volume_labels={},
            failed_marker=FAILED_MARKER,
            failed_exit_code=EXIT_ENV_FAILED,
        ),
        workdir="/",
    )


def _requirements(path: Path, code: ResolvedCode) -> tuple[list[str], PipOptions]:
    """The lines of the code's ``requirements.txt``, passed to pip as they are: unlike ``env.python``, the code
    directory is in the container, so local paths (``./wheels/x.whl``) and pip options work as written."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LabError(f"EXECUTE_CODE {code.spec.text}: requirements.txt cannot be read: {exc}") from None
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    return lines, PipOptions()
