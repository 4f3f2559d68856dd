"""``DataSphereJobOperator``: run a DataSphere Jobs ``config.yaml`` as a task.

All job logic lives in the core ``JobService`` and the run machinery in ``operators/base.py`` (durability,
deferral, XCom, links, on_kill); this module only turns the config (a ``.yaml``/``.yml`` path rendered as a Jinja
template, inline YAML text, or a mapping) plus fork-style overrides into a validated ``JobConfig``; an invalid
config fails the task at once, no retries.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk.log import mask_secret

from airflow_provider_dsjobs.compat import AirflowFailException
from airflow_provider_dsjobs.config import ConfigError, config_from_mapping, load_config, load_config_text
from airflow_provider_dsjobs.config.model import JobConfig
from airflow_provider_dsjobs.config.overrides import Overrides
from airflow_provider_dsjobs.documents.record import JobRecord
from airflow_provider_dsjobs.hooks.secret_names import is_secret_env_name
from airflow_provider_dsjobs.jobs.service import JobService
from airflow_provider_dsjobs.operators.base import JobOperatorBase, OnCreated

if TYPE_CHECKING:
    import jinja2
    from airflow.sdk import Context


CONFIG_FILE_SUFFIXES = (".yaml", ".yml")


class DataSphereJobOperator(JobOperatorBase):
    """Run a DataSphere Jobs ``config.yaml`` in a Docker container, inputs and outputs staged through the store.

    :param config: path of a ``.yaml``/``.yml`` config (relative to the DAG folder or ``template_searchpath``, or
        absolute; rendered with Jinja, relative paths inside it resolve against its directory), a YAML string, or
        a mapping in ``config.yaml`` shape (relative paths resolve against the DAG folder).
    :param args: override values of ``args`` (``{NAME: value}``; each NAME must exist in the config).
    :param input_vars: override the paths of input vars (``{VAR: path}``).
    :param output_vars: override the paths of output vars (``{VAR: path}``).
    :param env_vars: replace ``env.vars`` (``{NAME: value}``). Values reach the container only (never the job
        record); those whose name looks secret (``TOKEN``, ``PASSWORD``, ``KEY``...) are masked in logs.
    :param secret_env_vars: names of ``env_vars`` entries to mask in logs whatever their names.
    :param cloud_instance_types: replace ``cloud-instance-types`` (priority order).
    :param job_name: override ``name``.
    :param job_desc: override ``desc``.

    The run parameters (``wait_for_completion``, ``deferrable``, ``poll_interval``, ``skip_on_exit_code``,
    ``on_kill_action`` — ``cancel`` uses the config's ``graceful-shutdown`` —, ``durable``, ``log_tail_lines``,
    ``dataset_alias``, ``image_pull_policy``, ``stream_logs``, ``docker_conn_id``, ``dsjobs_conn_id``) are
    ``JobOperatorBase``'s.
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
        "docker_conn_id",
        "image_pull_policy",
    )
    template_ext: Sequence[str] = CONFIG_FILE_SUFFIXES
    template_fields_renderers = {
        "config": "yaml",
        "args": "json",
        "input_vars": "json",
        "output_vars": "json",
        "env_vars": "json",
    }

    def __init__(
        self,
        *,
        config: str | Mapping[str, Any],
        args: Mapping[str, Any] | None = None,
        input_vars: Mapping[str, str] | None = None,
        output_vars: Mapping[str, str] | None = None,
        env_vars: Mapping[str, Any] | None = None,
        secret_env_vars: Collection[str] | None = None,
        cloud_instance_types: str | Sequence[str] | None = None,
        job_name: str | None = None,
        job_desc: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.config = config
        self.args = args
        self.input_vars = input_vars
        self.output_vars = output_vars
        self.env_vars = env_vars
        self.secret_env_vars = frozenset(secret_env_vars or ())
        self.cloud_instance_types = cloud_instance_types
        self.job_name = job_name
        self.job_desc = job_desc
        # Airflow replaces a template file path by its rendered content; keep the path to know its directory.
        self._config_file: str | None = (
            config if isinstance(config, str) and config.endswith(CONFIG_FILE_SUFFIXES) else None
        )
        self._config_path: Path | None = None
        self._job_config: JobConfig | None = None
        self._job_environ: dict[str, str] = {}

    # -- config ----------------------------------------------------------------------------------------------

    def resolve_template_files(self) -> None:
        # The config file is read when the task renders (render_template_fields), where its path is kept too.
        config, self.config = self.config, None  # type: ignore[assignment]
        try:
            super().resolve_template_files()
        finally:
            self.config = config

    def _do_render_template_fields(
        self,
        parent: Any,
        template_fields: Iterable[str],
        context: Context,
        jinja_env: jinja2.Environment,
        seen_oids: set[int],
    ) -> None:
        # Every task renders through here: BaseOperator.render_template_fields, and for a mapped task the
        # MappedOperator, which calls this on the unmapped operator and never its render_template_fields.
        if parent is not self:
            super()._do_render_template_fields(parent, template_fields, context, jinja_env, seen_oids)
            return
        if self._config_file is not None:
            path, source = self._read_config_file(jinja_env)
            self._config_path = path
            # A file whose text ends in ".yaml" (no final newline) must not be taken for a file name again.
            self.config = source if not source.endswith(CONFIG_FILE_SUFFIXES) else source + "\n"
        super()._do_render_template_fields(parent, template_fields, context, jinja_env, seen_oids)
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
        unknown = sorted(self.secret_env_vars - set(overrides.env_vars or {}))
        if unknown:
            raise AirflowFailException(f"secret_env_vars names {', '.join(unknown)}, which env_vars does not set")
        try:
            # Values given through env_vars (often secrets) reach the container through the submitter's
            # environment only, never the job record or stored config.
            job_config = overrides.submitted_config(self._load_config(), catalog=self.hook.settings.instance_catalog)
        except ConfigError as exc:
            raise AirflowFailException(f"Invalid job config: {exc}") from None
        self._job_environ = overrides.environ
        _mask_env_values(job_config, self._job_environ, self.secret_env_vars)
        self._job_config = job_config
        return job_config

    def _load_config(self) -> JobConfig:
        config, catalog = self.config, self.hook.settings.instance_catalog
        if isinstance(config, Mapping):
            return config_from_mapping(dict(config), base_dir=self._dag_folder(), catalog=catalog)
        if not isinstance(config, str):
            raise AirflowFailException(
                f"config must be a .yaml/.yml path, YAML text or a mapping, not {type(config).__name__}"
            )
        if self._config_file is not None:
            if self._config_path is None:  # executed without rendering: read the file as it is
                self._config_path, _ = self._read_config_file(None)
                return load_config(self._config_path, catalog=catalog)
            path = self._config_path
            return load_config_text(config, source=str(path), base_dir=path.parent, catalog=catalog)
        return load_config_text(config, source=f"<{self.task_id}.config>", base_dir=self._dag_folder(), catalog=catalog)

    def _prepare_job(self) -> None:
        self._prepare_config()

    def _submit_job(self, service: JobService, labels: Mapping[str, str], on_created: OnCreated) -> JobRecord:
        job_config = self._prepare_config()
        self.log.info("Submitting job from %s", job_config.source)
        return service.submit(
            job_config,
            labels=labels,
            log=self._log_sink,
            notify=self.log.info,
            environ={**os.environ, **self._job_environ} if self._job_environ else None,
            on_created=on_created,
            secret_env_names=self.secret_env_vars,
        )

    def _secret_env_names(self) -> list[str]:
        return sorted(self.secret_env_vars)


def _as_dict(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise AirflowFailException(f"expected a mapping of names to values, got {type(value).__name__}")
    return {str(k): v for k, v in value.items()}


def _mask_env_values(job_config: JobConfig, environ: Mapping[str, str], secret_names: Collection[str]) -> None:
    """Register the secret env values the job will see with Airflow's secret masker: those whose name looks
    sensitive (literal or copied with ``- NAME``) and the ``env_vars`` overrides marked secret. Ordinary values
    stay readable (masking every value turns ``REGION: eu`` into ``***-west`` all over the log)."""
    for var in job_config.env.vars:
        if not (var.name in secret_names or is_secret_env_name(var.name)):
            continue
        value = environ.get(var.name, os.environ.get(var.name)) if var.from_env else var.value
        if value:
            mask_secret(value)  # with a name the masker would skip names it does not itself deem sensitive
