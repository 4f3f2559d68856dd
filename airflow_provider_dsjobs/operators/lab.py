"""``LabJobOperator``: run an ML Lab job (seed 004) — an image, or code through ``EXECUTE_CODE`` — as a task.

The run machinery is ``JobOperatorBase``'s (durable re-attach, deferral, XCom ``job_id`` and ``return_value``,
on_kill cancels with SIGTERM and 10 s before SIGKILL); the job is the core's ``lab.submit_lab_job``. Param values
and the ``LAB_API_TOKEN`` of the connection are registered with the secret masker; the record keeps
secret-looking param values as ``***``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk.log import mask_secret

from airflow_provider_dsjobs.compat import AirflowFailException
from airflow_provider_dsjobs.documents.record import JobRecord
from airflow_provider_dsjobs.hooks.secret_names import is_secret_env_name
from airflow_provider_dsjobs.jobs.service import JobService
from airflow_provider_dsjobs.lab.config import EXECUTE_CODE, LabError, LabJobConfig
from airflow_provider_dsjobs.lab.git_url import url_passwords
from airflow_provider_dsjobs.lab.handler import submit_lab_job
from airflow_provider_dsjobs.operators.base import JobOperatorBase, OnCreated

if TYPE_CHECKING:
    import jinja2
    from airflow.sdk import Context


class LabJobOperator(JobOperatorBase):
    """Run ``image`` as a job: its own ENTRYPOINT/CMD, ``params`` as environment variables over its ``ENV``.

    :param image: the job's Docker image (None: the connection's ``default_image``, else ``DSJOBS_DEFAULT_IMAGE``).
    :param name: job name (default: generated). Runs with the same name in a project share ``/data``.
    :param params: environment variables for the job (``{NAME: value}``); ``EXECUTE_CODE`` among them names code.
        Values under secret-looking names (``*TOKEN*``, ``*PASSWORD*`` ...) are masked in logs.
    :param execute_code: code to run in the image instead of its CMD: ``git+URL[@ref][#subdirectory=DIR]``, a
        directory or script (relative to the DAG folder), or ``store:KEY``; resolved on the worker. A value with a
        template, and ``EXECUTE_CODE`` in ``params``, are run-time values: they name local code (a path,
        ``git+file://``) only under the ``lab_code_roots`` of the connection (``DSJOBS_LAB_CODE_ROOTS``).
    :param requirements_only: install the code's dependencies into the environment cache without running it.
    :param code_only: run the code without its dependency files (the seed's ``--code-only``, for an image that
        has them baked in).
    :param allow_internal_params: let ``params`` set variables the image's ENV marks internal (names with ``_``).
    :param cloud_instance_types: instance types in priority order (default: the engine's resources), from the
        built-in names or the catalog (``DSJOBS_INSTANCE_TYPES``, the connection's extra ``instance_types``).

    The run parameters are ``JobOperatorBase``'s (``wait_for_completion``, ``deferrable``, ``poll_interval``,
    ``skip_on_exit_code``, ``on_kill_action``, ``durable``, ``log_tail_lines``, ``dataset_alias``,
    ``dsjobs_conn_id``).
    """

    #: ``params`` and ``name`` are kept as ``job_params`` / ``job_name``: ``BaseOperator.params`` are the DAG's Params.
    template_fields: Sequence[str] = (
        "image",
        "job_name",
        "job_params",
        "execute_code",
        "cloud_instance_types",
        "dsjobs_conn_id",
    )
    template_fields_renderers = {"job_params": "json"}

    def __init__(
        self,
        *,
        image: str | None = None,
        name: str | None = None,
        params: Mapping[str, Any] | None = None,
        execute_code: str | None = None,
        requirements_only: bool = False,
        cloud_instance_types: str | Sequence[str] | None = None,
        code_only: bool = False,
        allow_internal_params: bool = False,
        **kwargs: Any,
    ) -> None:
        job_params, dag_params = _split_params(params)
        super().__init__(params=dag_params, **kwargs)
        self.image = image
        self.job_name = name
        self.job_params = job_params
        self.execute_code = execute_code
        #: a templated ``execute_code`` is rendered from the run (conf, Params): a run-time value, not the author's
        self._code_is_runtime = _is_template(execute_code)
        self.requirements_only = requirements_only
        self.cloud_instance_types = cloud_instance_types
        self.code_only = code_only
        self.allow_internal_params = allow_internal_params
        self._lab_config: LabJobConfig | None = None

    def _do_render_template_fields(
        self,
        parent: Any,
        template_fields: Iterable[str],
        context: Context,
        jinja_env: jinja2.Environment,
        seen_oids: set[int],
    ) -> None:
        # Every task renders through here (a mapped one too): the token of an https code URL rendered from the run's
        # conf is masked before Airflow stores and shows the rendered fields.
        super()._do_render_template_fields(parent, template_fields, context, jinja_env, seen_oids)
        if parent is self:
            _mask_code_credentials(self.execute_code, (self.job_params or {}).get(EXECUTE_CODE))

    def _prepare_job(self) -> None:
        self._config()

    def _config(self) -> LabJobConfig:
        if self._lab_config is None:
            try:
                self._lab_config = LabJobConfig(
                    image=self.image or self.hook.settings.default_image,
                    name=self.job_name or None,
                    params=self.job_params or {},
                    execute_code=self.execute_code or None,
                    requirements_only=self.requirements_only,
                    cloud_instance_types=self.cloud_instance_types or (),
                    code_only=self.code_only,
                    allow_internal_params=self.allow_internal_params,
                    code_is_runtime=self._code_is_runtime,
                )
            except LabError as exc:
                raise AirflowFailException(f"Invalid ML Lab job: {exc}") from None
            for key, value in self._lab_config.params.items():
                if value and is_secret_env_name(key):
                    mask_secret(value)
        return self._lab_config

    def _submit_job(self, service: JobService, labels: Mapping[str, str], on_created: OnCreated) -> JobRecord:
        config = self._config()
        self.log.info("Submitting ML Lab job from image %s", config.image)
        token = service.settings.lab_api_token
        if token:
            mask_secret(token, name="LAB_API_TOKEN")
        return submit_lab_job(
            service, config, labels=labels, notify=self.log.info, base_dir=self._dag_folder(), on_created=on_created
        )

    def _dag_folder(self) -> Path:
        if self.has_dag() and self.dag.folder:
            return Path(self.dag.folder)
        return Path.cwd()


def _mask_code_credentials(*values: object) -> None:
    for value in values:
        if isinstance(value, str):
            for password in url_passwords(value):
                mask_secret(password)  # no name: a name that does not look secret would skip the mask


def _is_template(value: object) -> bool:
    return isinstance(value, str) and any(mark in value for mark in ("{{", "{%", "{#"))


def _split_params(params: Mapping[str, Any] | None) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """``(job params, DAG params)``. Airflow merges an operator's ``params=`` into the DAG's Params before
    ``__init__`` runs (a ``ParamsDict``); the ones the task gave (source ``task``) are the job's, as plain values
    (templated later), and the DAG's stay the task's Params."""
    if params is None:
        return None, None
    get_param = getattr(params, "get_param", None)
    if get_param is None:
        return dict(params), None
    job: dict[str, Any] = {}
    dag: dict[str, Any] = {}
    for key in params:
        param = get_param(key)
        if getattr(param, "source", None) == "dag":
            dag[key] = param
        else:
            job[key] = param.value
    return job, dag or None
