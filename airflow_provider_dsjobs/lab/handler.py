"""``LabJobHandler``: run ML Lab jobs through the core ``JobService``, as the seed's Python client does.

::

    from airflow_provider_dsjobs.lab import LabJobConfig, LabJobHandler

    handler = LabJobHandler()                      # settings from DSJOBS_* (or LabJobHandler(settings=...))
    job = handler.run_job(LabJobConfig(image="my/job:1", name="my-job", params={"EPOCHS": "5"}), check_status=True)
    job.status, job.return_code, job.id            # a JobRecord: the same record `dsjobs ls/get` show

``submit`` is the one path every front end takes (this handler, ``dsjobs run``, ``LabJobOperator``): the code is
resolved on this side (``lab/code.py``) into a scratch directory, the job is planned (``lab/plan.py``), the record
(kind ``lab``; ``config`` holds the image, the name, the param names with secret-looking values as ``***``, and
where the code came from with its commit) is stored and the container launched by ``JobService.submit_plan``.
After that a lab job is a job like any other: ``wait``, ``cancel``, ``logs``, ``get``, re-attach, TTL and ``gc``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from airflow_provider_dsjobs.config.redact import is_sensitive_name
from airflow_provider_dsjobs.documents.record import DEFAULT_DATA_TTL, JobRecord, utcnow
from airflow_provider_dsjobs.lab.code import (
    CodeSpec,
    ResolvedCode,
    image_code,
    parse_code,
    remove_scratch,
    resolve_code,
)
from airflow_provider_dsjobs.lab.config import EXECUTE_CODE, LabError, LabJobConfig
from airflow_provider_dsjobs.lab.plan import plan_lab_job
from airflow_provider_dsjobs.runtime.errors import RuntimeFailure
from airflow_provider_dsjobs.settings import Settings

if TYPE_CHECKING:
    from airflow_provider_dsjobs.jobs.service import JobService, LogSink, Notify


def record_config(config: LabJobConfig, name: str, code: ResolvedCode | None) -> dict[str, Any]:
    """What the job record keeps of the config: no secret-looking param values."""
    params = {k: ("***" if is_sensitive_name(k) else v) for k, v in config.env_params.items()}
    data: dict[str, Any] = {"image": config.image, "name": name, "params": params}
    if config.cloud_instance_types:
        data["cloud_instance_types"] = list(config.cloud_instance_types)
    if code is not None:
        data["execute_code"] = code.to_dict()
        data["requirements_only"] = config.requirements_only
        data["code_only"] = config.code_only
    return data


def submit_lab_job(
    service: JobService,
    config: LabJobConfig,
    *,
    labels: Mapping[str, str] | None = None,
    notify: Notify | None = None,
    base_dir: Path | None = None,
    progress_stream: TextIO | None = None,
    on_created: Callable[[JobRecord], None] | None = None,
) -> JobRecord:
    """Resolve the code, plan and launch; returns once the container runs. ``LabError``/``JobError`` on failure
    (before anything is stored when the config or the code is bad). ``on_created`` as in ``JobService.submit``."""
    say: Notify = notify or (lambda _: None)
    scratch = Path(tempfile.mkdtemp(prefix="dsjobs-lab-"))
    try:
        code = None
        spec = _image_code(service, config, say)  # the image's ENV, when it matters
        if config.execute_code:
            spec = parse_code(
                config.execute_code,
                base_dir,
                runtime=config.code_is_runtime,
                roots=service.settings.lab_code_roots,
            )
        if spec is not None:
            code = resolve_code(spec, scratch, service.jobs, need_main=not config.requirements_only)
            if code.commit:
                say(f"code: {spec.url} at commit {code.commit}")
        job_id = service.new_job_id()
        name = config.job_name
        plan = plan_lab_job(
            config, code, service.settings, job_id=job_id, name=name, project=service.project, labels=labels
        )
        now = utcnow()
        record = JobRecord(
            id=job_id,
            project=service.project,
            name=name,
            created_at=now,
            data_expires_at=now + DEFAULT_DATA_TTL,
            config=record_config(config, name, code),
            base_dir=str(base_dir) if base_dir else None,
            image=plan.image,
            labels=dict(plan.labels),
            kind="lab",
        )
        return service.submit_plan(plan, record, say=say, progress_stream=progress_stream, on_created=on_created)
    finally:
        remove_scratch(scratch)


def _image_code(service: JobService, config: LabJobConfig, say: Notify) -> CodeSpec | None:
    """What the image's own ENV says about the job, read only when it matters: an ``EXECUTE_CODE`` path there is
    code baked into the image (run as ``image:PATH``), and a param may not override an internal variable of the
    image (a name starting with ``_``, the ML Lab convention) unless ``allow_internal_params``."""
    internal = [name for name in config.params if name.startswith("_")]
    if config.execute_code and not internal:
        return None
    image_env = _image_env(service, config)
    overridden = [name for name in internal if name in image_env]
    if overridden and not config.allow_internal_params:
        names = ", ".join(overridden)
        raise LabError(
            f"params {names}: image {config.image} sets {names} in its ENV, and names starting with '_' are its "
            "internal variables (not to be changed by a run); pass allow_internal_params=True (CLI "
            "--allow-internal-params) to override them on purpose"
        )
    baked = image_env.get(EXECUTE_CODE, "").strip()
    if config.execute_code or not baked.startswith("/"):
        return None
    say(f"code: EXECUTE_CODE {baked} from the image's own ENV (code in the image)")
    return image_code(baked)


def _image_env(service: JobService, config: LabJobConfig) -> dict[str, str]:
    """The image's ENV, the image pulled first as the job's launch would (same credentials and pull policy)."""
    from airflow_provider_dsjobs.jobs.plan import connection_registry_credentials

    settings = service.settings
    username, password = connection_registry_credentials(settings, config.image)
    try:
        service.runtime.ensure_image(
            config.image, username=username, password=password, policy=settings.image_pull_policy
        )
        return service.runtime.image_env(config.image)
    except RuntimeFailure:
        return {}  # the launch meets the same failure and records it on the job


class LabJobHandler:
    """The seed's ``LabJobHandler`` over this project's core: the same settings as the CLI.

    :param settings: where jobs run and live (default ``Settings.from_env()``: the ``DSJOBS_*`` variables).
    :param service: an existing ``JobService`` (the Airflow hook passes its own).
    :param log: receives the job's output lines ``(stream, line)`` while ``run_job`` waits (default: printed).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        service: JobService | None = None,
        log: LogSink | None = None,
        notify: Notify | None = None,
    ) -> None:
        from airflow_provider_dsjobs.jobs.service import JobService

        self.service = service or JobService(settings or Settings.from_env())
        self._log = log if log is not None else _print_line
        self._notify = notify

    @property
    def settings(self) -> Settings:
        return self.service.settings

    def run_job(self, job: LabJobConfig, check_status: bool = True, *, poll_interval: float = 1.0) -> JobRecord:
        """Run ``job``. ``check_status=True`` waits and returns the finished record (``.status``,
        ``.return_code``, ``.id``); ``False`` returns as soon as the container runs."""
        record = submit_lab_job(self.service, job, notify=self._notify)
        if not check_status:
            return record
        return self.service.wait(record.id, log=self._log, poll_interval=poll_interval)

    def get_job(self, job_id: str) -> JobRecord:
        return self.service.get(job_id)

    def cancel_job(self, job_id: str) -> JobRecord:
        return self.service.cancel(job_id, graceful=True)


def _print_line(stream: str, line: str) -> None:
    import sys

    print(line, file=sys.stderr if stream == "stderr" else sys.stdout, flush=True)


__all__ = ["EXECUTE_CODE", "LabJobConfig", "LabJobHandler", "submit_lab_job"]
