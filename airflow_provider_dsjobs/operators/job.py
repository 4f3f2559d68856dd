"""``DataSphereJobOperator``: run a DataSphere Jobs ``config.yaml`` as a task.

All job logic lives in the core ``JobService``; this module only maps Airflow concepts onto it:

* the config (a ``.yaml``/``.yml`` path rendered as a Jinja template, inline YAML text, or a mapping) plus
  fork-style overrides becomes a validated ``JobConfig``; an invalid config fails the task at once, no retries;
* the job id goes to ``task_state_store`` (durable: a retry re-attaches instead of starting a second job), to
  XCom (``job_id``) and to the extra link as soon as the job exists; container labels identify the task try as
  the fallback when the store has nothing. The decisions are ``ResumableJobMixin``'s (running → re-attach,
  succeeded → reuse its result, failed → submit anew), made explicitly because the mixin covers neither the
  deferrable path nor a label fallback, and returns different things on its reconnect and fresh paths;
* the container's output streams into the task log; deferrable mode hands the wait to ``DataSphereJobTrigger``
  and shows the log tail on resume;
* the end result is the ``return_value`` dict, ``output_datasets`` XCom and one asset event per output dataset.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import AssetAlias, BaseOperator, conf
from airflow.sdk.exceptions import AirflowException, AirflowFailException
from airflow.sdk.log import mask_secret

from airflow_provider_dsjobs.assets import DEFAULT_ALIAS, emit_output_datasets
from airflow_provider_dsjobs.config import ConfigError, config_from_mapping, load_config, load_config_text
from airflow_provider_dsjobs.config.model import JobConfig
from airflow_provider_dsjobs.config.overrides import Overrides
from airflow_provider_dsjobs.hooks.dsjobs import DataSphereJobsHook
from airflow_provider_dsjobs.jobs.record import JobRecord, JobStatus
from airflow_provider_dsjobs.jobs.service import JobError, JobService
from airflow_provider_dsjobs.links.job import DataSphereJobLink
from airflow_provider_dsjobs.operators.job_result import (
    DEFAULT_LOG_TAIL,
    STATE_JOB_ID,
    XCOM_JOB_ID,
    XCOM_OUTPUT_DATASETS,
    check_outcome,
    exit_codes,
    is_exited,
    job_errors,
    job_result,
    log_line,
    log_outcome,
    log_tail,
)
from airflow_provider_dsjobs.triggers.job import ON_KILL_ACTIONS, DataSphereJobTrigger

if TYPE_CHECKING:
    import jinja2
    from airflow.sdk import Context

CONFIG_FILE_SUFFIXES = (".yaml", ".yml")


def task_labels(context: Mapping[str, Any]) -> dict[str, str]:
    """Labels that identify a task instance across its tries (the re-attach fallback searches by these)."""
    ti = context["ti"]
    return {
        "airflow.dag_id": str(ti.dag_id),
        "airflow.task_id": str(ti.task_id),
        "airflow.run_id": str(ti.run_id),
        "airflow.map_index": str(getattr(ti, "map_index", -1)),
    }


class DataSphereJobOperator(BaseOperator):
    """Run a DataSphere Jobs ``config.yaml`` in a Docker container, inputs and outputs staged through the store.

    :param config: path of a ``.yaml``/``.yml`` config (relative to the DAG folder or ``template_searchpath``, or
        absolute; rendered with Jinja, relative paths inside it resolve against its directory), a YAML string, or
        a mapping in ``config.yaml`` shape (relative paths resolve against the DAG folder).
    :param args: override values of ``args`` (``{NAME: value}``; each NAME must exist in the config).
    :param input_vars: override the paths of input vars (``{VAR: path}``).
    :param output_vars: override the paths of output vars (``{VAR: path}``).
    :param env_vars: replace ``env.vars`` (``{NAME: value}``). Values are masked in logs.
    :param cloud_instance_types: replace ``cloud-instance-types`` (priority order).
    :param job_name: override ``name``.
    :param job_desc: override ``desc``.
    :param wait_for_completion: wait for the job (default). With False the task ends once the job runs and
        returns its id; watch it with ``DataSphereJobSensor``.
    :param deferrable: wait in the triggerer instead of a worker slot.
    :param poll_interval: seconds between status checks.
    :param skip_on_exit_code: exit code(s) that mark the task skipped instead of failed.
    :param on_kill_action: ``cancel`` (default: the job is cancelled, with its ``graceful-shutdown``, when the task
        is killed, times out or its worker shuts down) or ``keep`` (leave it running; the next try re-attaches).
    :param durable: remember the job id across tries and re-attach to a running job instead of starting another.
    :param log_tail_lines: lines of output shown when the task picks up a job it did not watch.
    :param dataset_alias: asset alias that receives one event per output dataset (None: no asset events).
    :param dsjobs_conn_id: the ``dsjobs`` connection (absent: ``DSJOBS_*`` variables and embedded defaults).
    """

    template_fields: Sequence[str] = (
        "config",
        "args",
        "input_vars",
        "output_vars",
        "env_vars",
        "cloud_instance_types",
        "job_name",
        "job_desc",
        "dsjobs_conn_id",
    )
    template_ext: Sequence[str] = CONFIG_FILE_SUFFIXES
    template_fields_renderers = {
        "config": "yaml",
        "args": "json",
        "input_vars": "json",
        "output_vars": "json",
        "env_vars": "json",
    }
    operator_extra_links = (DataSphereJobLink(),)
    ui_color = "#d6eaff"

    def __init__(
        self,
        *,
        config: str | Mapping[str, Any],
        args: Mapping[str, Any] | None = None,
        input_vars: Mapping[str, str] | None = None,
        output_vars: Mapping[str, str] | None = None,
        env_vars: Mapping[str, Any] | None = None,
        cloud_instance_types: str | Sequence[str] | None = None,
        job_name: str | None = None,
        job_desc: str | None = None,
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 5.0,
        skip_on_exit_code: int | Iterable[int] | None = None,
        on_kill_action: str = "cancel",
        durable: bool = True,
        log_tail_lines: int = DEFAULT_LOG_TAIL,
        dataset_alias: str | None = DEFAULT_ALIAS,
        dsjobs_conn_id: str = DataSphereJobsHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        if on_kill_action not in ON_KILL_ACTIONS:
            raise ValueError(f"on_kill_action must be one of {ON_KILL_ACTIONS}, got {on_kill_action!r}")
        if dataset_alias:
            outlets = list(kwargs.pop("outlets", None) or [])
            if not any(isinstance(o, AssetAlias) and o.name == dataset_alias for o in outlets):
                outlets.append(AssetAlias(dataset_alias))
            kwargs["outlets"] = outlets
        super().__init__(**kwargs)
        self.config = config
        self.args = args
        self.input_vars = input_vars
        self.output_vars = output_vars
        self.env_vars = env_vars
        self.cloud_instance_types = cloud_instance_types
        self.job_name = job_name
        self.job_desc = job_desc
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.skip_on_exit_code = exit_codes(skip_on_exit_code)
        self.on_kill_action = on_kill_action
        self.durable = durable
        self.log_tail_lines = log_tail_lines
        self.dataset_alias = dataset_alias
        self.dsjobs_conn_id = dsjobs_conn_id
        # Airflow replaces a template file path by its rendered content; keep the path to know its directory.
        self._config_file: str | None = (
            config if isinstance(config, str) and config.endswith(CONFIG_FILE_SUFFIXES) else None
        )
        self._config_path: Path | None = None
        self._job_config: JobConfig | None = None
        self._job_environ: dict[str, str] = {}
        self._job_id: str | None = None
        #: The job's link once known in this process (DataSphereJobLink reads it at the end of the task).
        self.job_link: str | None = None

    # -- config ----------------------------------------------------------------------------------------------

    @cached_property
    def hook(self) -> DataSphereJobsHook:
        return DataSphereJobsHook(dsjobs_conn_id=self.dsjobs_conn_id)

    def resolve_template_files(self) -> None:
        # The config file is read when the task renders (render_template_fields), where its path is kept too.
        config, self.config = self.config, None  # type: ignore[assignment]
        try:
            super().resolve_template_files()
        finally:
            self.config = config

    def render_template_fields(self, context: Context, jinja_env: jinja2.Environment | None = None) -> None:
        if jinja_env is None:
            jinja_env = self.get_template_env()
        if self._config_file is not None:
            path, source = self._read_config_file(jinja_env)
            self._config_path = path
            # A file whose text ends in ".yaml" (no final newline) must not be taken for a file name again.
            self.config = source if not source.endswith(CONFIG_FILE_SUFFIXES) else source + "\n"
        super().render_template_fields(context, jinja_env)
        self._job_config = None
        # Validate now, so env values are masked before Airflow stores the rendered fields.
        self._prepare_config()

    def _read_config_file(self, jinja_env: jinja2.Environment | None) -> tuple[Path, str]:
        """The config file's absolute path and text: an absolute path as is, a relative one looked up like
        Airflow looks up template files (DAG folder, then ``template_searchpath``)."""
        assert self._config_file is not None
        name = self._config_file
        loader = getattr(jinja_env, "loader", None)
        if Path(name).is_absolute() or loader is None:
            path = Path(name) if Path(name).is_absolute() else self._dag_folder() / name
            try:
                return path.resolve(), path.read_text(encoding="utf-8")
            except OSError as exc:
                raise AirflowFailException(f"config file {str(path)!r} cannot be read: {exc.strerror}") from None
        import jinja2

        try:
            source, filename, _ = loader.get_source(jinja_env, name)
        except jinja2.TemplateNotFound:
            searched = ", ".join(map(str, getattr(loader, "searchpath", []))) or "nothing"
            raise AirflowFailException(f"config file {name!r} not found (searched {searched})") from None
        return Path(filename or name).resolve(), source

    def _dag_folder(self) -> Path:
        if self.has_dag() and self.dag.folder:
            return Path(self.dag.folder)
        return Path.cwd()

    def _prepare_config(self) -> JobConfig:
        """The validated config with overrides applied (cached); fails the task, without retries, if invalid."""
        if self._job_config is not None:
            return self._job_config
        overrides = Overrides(
            args=_as_dict(self.args),
            input_vars=_as_dict(self.input_vars),
            output_vars=_as_dict(self.output_vars),
            env_vars=_as_dict(self.env_vars),
            cloud_instance_types=self.cloud_instance_types or None,
            name=self.job_name or None,
            desc=self.job_desc or None,
        )
        try:
            # Values given through env_vars (often secrets) reach the container through the submitter's
            # environment only, never the job record or stored config.
            job_config = overrides.submitted_config(self._load_config())
        except ConfigError as exc:
            raise AirflowFailException(f"Invalid job config: {exc}") from None
        self._job_environ = overrides.environ
        _mask_env_values(job_config, self._job_environ)
        self._job_config = job_config
        return job_config

    def _load_config(self) -> JobConfig:
        config = self.config
        if isinstance(config, Mapping):
            return config_from_mapping(dict(config), base_dir=self._dag_folder())
        if not isinstance(config, str):
            raise AirflowFailException(
                f"config must be a .yaml/.yml path, YAML text or a mapping, not {type(config).__name__}"
            )
        if self._config_file is not None:
            if self._config_path is None:  # executed without rendering: read the file as it is
                self._config_path, _ = self._read_config_file(None)
                return load_config(self._config_path)
            return load_config_text(config, source=str(self._config_path), base_dir=self._config_path.parent)
        return load_config_text(config, source=f"<{self.task_id}.config>", base_dir=self._dag_folder())

    # -- run -------------------------------------------------------------------------------------------------

    def execute(self, context: Context) -> dict[str, Any]:
        with job_errors():
            return self._execute(context)

    def _execute(self, context: Context) -> dict[str, Any]:
        job_config = self._prepare_config()
        service = self.hook.service
        record = self._reattach(context, service)
        if record is None:
            self.log.info("Submitting job from %s", job_config.source)
            labels = {**task_labels(context), "airflow.try_number": str(getattr(context["ti"], "try_number", ""))}
            record = service.submit(
                job_config,
                labels=labels,
                log=self._log_sink,
                notify=self.log.info,
                environ={**os.environ, **self._job_environ} if self._job_environ else None,
            )
            self.log.info("Job %s is %s", record.id, record.status.value)
        self._job_id = record.id
        self._remember(context, record)
        if record.status.terminal:  # an earlier try's job that already succeeded
            log_tail(service, record.id, self.log_tail_lines, self.log)
            return self._complete(context, record)

        if not self.wait_for_completion:
            return job_result(record)
        if self.deferrable:
            return self._defer_unless_exited(context, service, record.id)
        record = service.wait(record.id, log=self._log_sink, poll_interval=self.poll_interval)
        return self._complete(context, record)

    def _reattach(self, context: Context, service: JobService) -> JobRecord | None:
        """A job an earlier try of this task started: running (re-attach) or succeeded (reuse); else None."""
        if not self.durable:
            return None
        store = context.get("task_state_store")
        job_id = store.get(STATE_JOB_ID) if store is not None else None
        if job_id:
            try:
                record: JobRecord | None = service.refresh(str(job_id))
            except JobError as exc:
                self.log.warning("Job %s from an earlier try cannot be read (%s); starting a new job", job_id, exc)
                record = None
            if record is not None and (not record.status.terminal or record.status == JobStatus.SUCCESS):
                self.log.info("Re-attaching to job %s (%s) started by an earlier try", record.id, record.status.value)
                return record
            if record is not None:
                self.log.info("Job %s of an earlier try ended %s; starting a new job", record.id, record.status.value)
                return None
        if int(getattr(context["ti"], "try_number", 2) or 2) <= 1:
            return None  # a first try has no earlier try whose job could be running (spares a store scan)
        found = service.find(task_labels(context))
        if found is not None:
            found = service.refresh(found.id)  # a launch whose launcher died ends ERROR here, not re-attached
        if found is not None and not found.status.terminal:
            self.log.info("Re-attaching to running job %s found by its task labels", found.id)
            return found
        return None

    def _remember(self, context: Context, record: JobRecord) -> None:
        """Make the job findable: task_state_store (for retries), XCom ``job_id`` and the extra link."""
        store = context.get("task_state_store")
        if self.durable and store is not None:
            store.set(STATE_JOB_ID, record.id)
        if self.do_xcom_push:
            context["ti"].xcom_push(key=XCOM_JOB_ID, value=record.id)
        self._persist_link(context, record)

    def _persist_link(self, context: Context, record: JobRecord) -> None:
        self.job_link = self.hook.job_link(record)
        DataSphereJobLink.persist(context, self.job_link)

    def _defer_unless_exited(self, context: Context, service: JobService, job_id: str) -> dict[str, Any]:
        record = service.refresh(job_id)
        if is_exited(record):
            self.log.info("Job %s already stopped (%s); not deferring", job_id, record.status.value)
            record = service.finalize(job_id)
            log_tail(service, job_id, self.log_tail_lines, self.log)
            return self._complete(context, record)
        self.log.info("Deferring until job %s stops", job_id)
        self.defer(
            trigger=DataSphereJobTrigger(
                job_id=job_id,
                dsjobs_conn_id=self.dsjobs_conn_id,
                poll_interval=self.poll_interval,
                graceful_cancel=True,
                on_kill_action=self.on_kill_action,
            ),
            method_name="execute_complete",
            timeout=self.execution_timeout,
        )
        raise AssertionError("defer() returned")  # pragma: no cover - defer always raises TaskDeferred

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resume after the trigger fired: finalize (stage out), show the log tail, return the result."""
        if not isinstance(event, Mapping) or not event.get("job_id") or event.get("status") is None:
            raise AirflowException(f"DataSphere job trigger sent no usable event: {event!r}")
        job_id = str(event["job_id"])
        self._job_id = job_id
        if event["status"] == "error":
            raise AirflowException(str(event.get("message") or f"job {job_id} could not be watched"))
        with job_errors():
            service = self.hook.service
            record = service.finalize(job_id)
            log_tail(service, job_id, self.log_tail_lines, self.log)
            return self._complete(context, record)

    def _complete(self, context: Context, record: JobRecord) -> dict[str, Any]:
        """Publish what the job produced, then succeed, skip or fail according to its outcome."""
        store = context.get("task_state_store")
        if self.durable and store is not None:
            # The job is over: nothing left to re-attach to. Forgetting it makes a user's "clear" run the job
            # again (Airflow keeps task state across clears) while a failed job is resubmitted either way.
            store.delete(STATE_JOB_ID)
        if self.do_xcom_push:
            context["ti"].xcom_push(key=XCOM_OUTPUT_DATASETS, value=dict(record.output_datasets))
        self._persist_link(context, record)
        if record.status == JobStatus.SUCCESS and self.dataset_alias:
            emit_output_datasets(context, self.dataset_alias, record)
        log_outcome(self.log, record)
        check_outcome(record, self.skip_on_exit_code)
        return job_result(record)

    def _log_sink(self, stream: str, line: str) -> None:
        log_line(self.log, stream, line)

    def on_kill(self) -> None:
        """Task killed (user action, timeout, worker shutdown): cancel the job unless ``on_kill_action="keep"``."""
        job_id = self._job_id
        if not job_id:
            return
        if self.on_kill_action == "keep":
            self.log.info("Task killed; job %s keeps running (on_kill_action=keep)", job_id)
            return
        self.log.info("Task killed; cancelling job %s", job_id)
        try:
            record = self.hook.service.cancel(job_id, graceful=True)
        except JobError as exc:
            self.log.error("Could not cancel job %s: %s", job_id, exc)
            return
        self.log.info("Job %s is %s", job_id, record.status.value)


def _as_dict(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise AirflowFailException(f"expected a mapping of names to values, got {type(value).__name__}")
    return {str(k): v for k, v in value.items()}


def _mask_env_values(job_config: JobConfig, environ: Mapping[str, str]) -> None:
    """Register every env var value the job will see with Airflow's secret masker."""
    for var in job_config.env.vars:
        value = environ.get(var.name, os.environ.get(var.name)) if var.from_env else var.value
        if value:
            mask_secret(value)
