"""Plan: a validated ``JobConfig`` becomes an immutable ``JobPlan`` — what goes where, which image, which env.

Pure: nothing here touches the network or the store. The only I/O is reading file stats (does an input exist,
is it a directory).

Workspace inside the container (every path is absolute, POSIX):

==============================  ==========================================================================
``/job/work``                   the working directory; var-less inputs at their relative paths, var-less
                                outputs collected from their relative paths
``/job/inputs/<VAR>/<name>``    an input with a var (``name`` is the basename of its local path)
``/job/outputs/<VAR>/<name>``   an output with a var (the parent directory is created before start)
``/job/output-datasets/<ds>/``  the directory of output dataset ``ds`` (its ``${var}``)
``/job/datasets/<id>/``         dataset ``id`` (materialized from ``projects/<p>/datasets/<id>/`` in the store)
``/job/s3/<id>/``               s3-mount ``id`` (objects copied in; a read-write one is synced back at the end)
``/job/project``                ``${DS_PROJECT_HOME}``: the named volume ``dsjobs-project-<project>``, read-only
==============================  ==========================================================================

``cmd`` runs as ``/bin/sh -c <script>`` so ``./run.sh``, ``python main.py`` and pipes work; ``${VAR}`` of
inputs, outputs, datasets, s3-mounts and output datasets becomes the in-container path, and ``${NAME}`` of an
``args`` entry becomes ``${DSJOBS_ARG_NAME}``, a variable of the container's environment holding the value: the
shell expands it (unquoted: several words; in ``"..."``: one), and never parses it as code
(``jobs/command.py``). ``$NAME`` without braces is left to the shell in the container. When a Python environment must be
built first, its setup command runs before ``cmd`` in the same shell. The runtime's ``shell_command`` wraps the
script so a graceful-shutdown signal reaches the user's program (tini as PID 1 signals the whole process group;
see ``runtime/shell.py``).

Environment: ``env.vars`` (``- NAME`` copies the submitter's variable at plan time; a missing one is an error),
plus ``DSJOBS_JOB_ID``, ``DSJOBS_JOB_NAME``, ``DSJOBS_PROJECT`` (the analogue of ML Lab's ``LAB_*``), the
``DSJOBS_ARG_*`` values of ``args`` (set last: nothing else shadows them),
``DS_PROJECT_HOME`` when the project disk is attached, and ``PYTHONUNBUFFERED=1`` (unless the config sets it) so
Python output streams live. No object-store credentials are ever added. The record keeps env var *names* only.

s3-mounts: an ID resolves through ``settings.s3_connector_resolver`` (Airflow connections, in Airflow), else the
project's S3 connectors, else the submitter's environment variable ``DSJOBS_S3_MOUNT_<ID>`` (ID upper-cased,
``-`` → ``_``) holding ``s3://bucket/prefix`` (read with the store's credentials); an unknown ID is an error. The
objects are copied into the container at launch; the credentials stay outside the container. A read-write mount
(``read_write`` connector, ``DSJOBS_S3_MOUNT_<ID>_MODE=rw``) is listed in ``plan.json`` to be synced back.
``spark.connector`` resolves the same way (``settings.spark_connector_resolver``, then the project's Spark
connectors).
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from airflow_provider_dsjobs.config.instance_types import InstanceType
from airflow_provider_dsjobs.config.model import RESERVED_VAR, JobConfig
from airflow_provider_dsjobs.config.redact import is_sensitive_name
from airflow_provider_dsjobs.documents.plan_doc import WORK_DIR, OutputDatasetPlacement, OutputPlacement, PythonSetup
from airflow_provider_dsjobs.jobs.command import ArithmeticArg, Script, UnknownVariable
from airflow_provider_dsjobs.jobs.command import render as render_script
from airflow_provider_dsjobs.jobs.result_file import RESULT_DIR, RESULT_ENV, RESULT_PATH
from airflow_provider_dsjobs.pyenv.errors import PyEnvError
from airflow_provider_dsjobs.pyenv.interpreter import find_installation
from airflow_provider_dsjobs.pyenv.plan import PythonEnvPlan, keyed_env, plan_python_env
from airflow_provider_dsjobs.resources.images import ProjectImage, binding_problem
from airflow_provider_dsjobs.resources.project_disk import project_volume_name
from airflow_provider_dsjobs.resources.s3_connectors import S3Connector, S3Source
from airflow_provider_dsjobs.resources.secrets import SecretsError, env_var_secret_name
from airflow_provider_dsjobs.resources.spark import CONFIG_PATH as SPARK_CONFIG_PATH
from airflow_provider_dsjobs.resources.spark import SparkConnector, SparkEndpoint, token_problem
from airflow_provider_dsjobs.runtime.images import normalize_registry, registry_of
from airflow_provider_dsjobs.runtime.labels import LABEL_JOB_ID, LABEL_PROJECT
from airflow_provider_dsjobs.runtime.shell import ENV_NAMES_VAR, portable_env, shell_command
from airflow_provider_dsjobs.settings import Settings
from airflow_provider_dsjobs.storage.base import StoreError

#: Finds a registered project image by ID (``None``: not registered; raises ``StoreError`` when it cannot tell).
ImageLookup = Callable[[str], "ProjectImage | None"]
#: Finds a registered S3 connector by ID (same contract).
ConnectorLookup = Callable[[str], "S3Connector | None"]
#: Finds a registered Spark connector by ID (same contract).
SparkLookup = Callable[[str], "SparkConnector | None"]

JOB_ROOT = "/job"
INPUTS_DIR = "/job/inputs"
OUTPUTS_DIR = "/job/outputs"
OUTPUT_DATASETS_DIR = "/job/output-datasets"
DATASETS_DIR = "/job/datasets"
S3_MOUNTS_DIR = "/job/s3"
PROJECT_DIR = "/job/project"

#: Graceful-shutdown wait when the config gives a signal but no timeout.
DEFAULT_GRACEFUL_TIMEOUT = 10.0

_VAR_RE = re.compile(r"\$\{(.+?)}")


class PlanError(Exception):
    """The config cannot be planned (a missing input, env var, secret...). One line a user can act on."""


@dataclass(frozen=True)
class StoredInput:
    """An input already in the project's cache (an unchanged input of a fork): the blob's sha256 for a file,
    the tree id for a directory; nothing is read from the submitter's machine for it."""

    kind: str  # "file" | "dir"
    sha256: str
    size: int
    mode: int = 0o644


@dataclass(frozen=True)
class InputPlacement:
    """One input: where it is on the submitter's machine and where it goes in the container."""

    path: str  # as written in the config
    var: str | None
    local_path: Path
    container_path: str
    is_dir: bool
    stored: StoredInput | None = None

    def describe(self) -> str:
        return f"{self.path} (${{{self.var}}})" if self.var else self.path


@dataclass(frozen=True)
class ExtraFile:
    """A local file or directory shipped into the container besides the inputs (Python local modules)."""

    local_path: Path
    container_path: str
    stored: StoredInput | None = None


@dataclass(frozen=True)
class ExtraBytes:
    """A small generated file put into the container (the Python environment builder and its spec)."""

    container_path: str
    content: bytes = field(repr=False)


def python_setup_of(pyplan: PythonEnvPlan) -> PythonSetup:
    """The ``PythonSetup`` (what ``plan.json`` keeps) of a planned ``env.python`` environment."""
    return PythonSetup(
        image=str(pyplan.image),
        volume_name=pyplan.volume_name,
        volume_mount=pyplan.volume_mount,
        volume_labels=dict(pyplan.volume_labels),
        failed_marker=pyplan.failed_marker,
        failed_exit_code=pyplan.failed_exit_code,
        setup_command=pyplan.setup_command,
        builder_path=pyplan.builder_path,
        spec_path=pyplan.spec_path,
        spec_json=pyplan.spec_json,
        notes=tuple(pyplan.notes),
        build_command=pyplan.build_command,
        ready_path=pyplan.ready_path,
        build_log=pyplan.build_log,
    )


def python_build_files(python: PythonSetup) -> list[tuple[str, bytes]]:
    """``(container path, content)`` of the environment's builder (this package's) and its spec."""
    from airflow_provider_dsjobs.pyenv.plan import builder_source

    if not python.builder_path:
        return []
    return [(python.builder_path, builder_source()), (python.spec_path, python.spec_json)]


@dataclass(frozen=True)
class Reuse:
    """What a fork takes from its source job's stored data instead of the submitter's files: each unchanged
    input by ``(path, var)`` as written in the config, the Python environment as planned, and the Python local
    modules by container path."""

    inputs: Mapping[tuple[str, str | None], StoredInput]
    python: PythonSetup | None = None
    extra_files: tuple[tuple[str, StoredInput], ...] = ()


@dataclass(frozen=True)
class DatasetPlacement:
    id: str
    var: str | None
    container_path: str


@dataclass(frozen=True)
class S3MountPlacement:
    id: str
    var: str | None
    source: S3Source  # bucket/prefix, endpoint and resolved credentials (never stored)
    container_path: str

    @property
    def url(self) -> str:
        return self.source.url


@dataclass(frozen=True)
class JobPlan:
    """Everything needed to launch one job; immutable. ``env`` holds values (it may hold secrets copied from
    the submitter's environment): it goes to the engine and nowhere else; ``registry_password`` likewise."""

    job_id: str
    project: str
    name: str | None
    image: str
    registry_username: str | None
    registry_password: str | None = field(repr=False)
    script: str
    command: tuple[str, ...]
    env: Mapping[str, str] = field(repr=False)
    labels: Mapping[str, str]
    #: the profiles of ``cloud-instance-types`` in priority order (empty: none named, the engine's resources)
    instance_types: tuple[InstanceType, ...]
    graceful_signal: str | None
    graceful_timeout: float | None
    inputs: tuple[InputPlacement, ...]
    outputs: tuple[OutputPlacement, ...]
    extra_files: tuple[ExtraFile, ...]
    extra_bytes: tuple[ExtraBytes, ...]
    datasets: tuple[DatasetPlacement, ...]
    s3_mounts: tuple[S3MountPlacement, ...]
    output_datasets: tuple[OutputDatasetPlacement, ...]
    directories: tuple[str, ...]  # created (empty) in the container before start
    volumes: Mapping[str, Mapping[str, str]]  # named volume -> {"bind": path, "mode": "ro"|"rw"}
    python: PythonSetup | None
    workdir: str = WORK_DIR  # "": the image's own WORKDIR
    #: replaces the image's ENTRYPOINT (``None``: the image's own); an empty ``command`` runs the image's CMD
    entrypoint: tuple[str, ...] | None = None
    #: labels of named volumes other than the pyenv cache and the project disk (ML Lab ``/data``)
    volume_labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    #: ``working-storage`` in bytes (whole GiB, rounded up as DataSphere does); ``jobs/working_storage.py``
    working_storage_bytes: int | None = None
    #: Names of ``env`` entries whose values are secret (the stored log masks them: ``jobs/log_masking.py``).
    secret_env_names: frozenset[str] = frozenset()


def _container_relpath(path: str, what: str) -> str:
    """A var-less path normalized to a relative POSIX path that stays inside the working directory."""
    norm = posixpath.normpath(path)  # a backslash is part of a name, as on Linux (storage/keys.py)
    if posixpath.isabs(norm) or norm == ".." or norm.startswith("../") or norm == ".":
        raise PlanError(f"{what} path {path!r} without a variable must be relative and stay in the job directory")
    return norm


def _basename(path: str) -> str:
    name = posixpath.basename(posixpath.normpath(path))
    return name if name not in ("", ".", "..", "/") else "data"


def s3_mount_env_name(mount_id: str) -> str:
    return "DSJOBS_S3_MOUNT_" + mount_id.upper().replace("-", "_")


def resolve_s3_source(
    mount_id: str,
    where: str,
    settings: Settings,
    environ: Mapping[str, str],
    connector_lookup: ConnectorLookup | None,
) -> S3Source:
    """A registered S3 connector (its own endpoint and credentials), else ``DSJOBS_S3_MOUNT_<ID>`` with the
    job store's S3 settings (``DSJOBS_S3_MOUNT_<ID>_MODE=rw`` makes it read-write, ``lazy`` lazy and read-only).
    A finalizer calls it again to sync a read-write mount back (``jobs/s3_sync.py``)."""
    try:
        resolved = settings.s3_connector_resolver(mount_id) if settings.s3_connector_resolver else None
        if resolved is not None:
            return resolved
        connector = connector_lookup(mount_id) if connector_lookup else None
    except StoreError as exc:
        raise PlanError(f"{where}: {exc}") from None
    if connector is not None:
        secret = None
        if connector.secret_key_secret_id:
            secret = _resolve_secret(settings, connector.secret_key_secret_id, f"{where}: s3-connector {mount_id!r}")
            if secret is None:
                raise PlanError(
                    f"{where}: s3-connector {mount_id!r} names secret {connector.secret_key_secret_id!r}, which "
                    f"does not exist (`dsjobs secret set {connector.secret_key_secret_id}`)"
                )
        return S3Source(
            connector.url, connector.endpoint_url, connector.region, connector.access_key_id, secret,
            max_bytes=connector.max_bytes, read_write=connector.read_write, lazy=connector.lazy, from_connector=True,
        )  # fmt: skip
    env_name = s3_mount_env_name(mount_id)
    url = environ.get(env_name)
    if not url or not url.startswith("s3://"):
        raise PlanError(
            f"{where}: unknown s3-mount {mount_id!r}: add it with `dsjobs s3-connector add {mount_id} "
            f"s3://bucket/prefix ...`, define the Airflow connection dsjobs_s3_{mount_id} (in Airflow) "
            f"or set {env_name}=s3://bucket/prefix"
        )
    mode = (environ.get(f"{env_name}_MODE") or "ro").strip().lower()
    if mode not in ("ro", "rw", "lazy"):
        raise PlanError(f"{where}: {env_name}_MODE must be ro, rw or lazy (read-only, fetched on demand), got {mode!r}")
    return S3Source(
        url,
        settings.s3_endpoint_url or environ.get("DSJOBS_S3_ENDPOINT_URL"),
        settings.s3_region,
        settings.aws_access_key_id,
        settings.aws_secret_access_key,
        settings.aws_session_token,
        session=settings.aws_session,
        read_write=mode == "rw",
        lazy=mode == "lazy",
    )


def resolve_command(
    cmd: str, paths: Mapping[str, str], args: Mapping[str, str] | None = None, source: str = "config"
) -> Script:
    """``cmd`` with every ``${NAME}`` replaced: a path by its value, an argument by the environment variable
    that holds it (``jobs/command.py``); the script's ``env`` carries those values."""
    for name, value in (args or {}).items():
        if "\0" in str(value):
            raise PlanError(f"{source}: args.{name}: the value holds a NUL character, which no env variable can carry")
    try:
        return render_script(cmd, paths, args or {})
    except ArithmeticArg as exc:
        raise PlanError(
            f"{source}: args.{exc.name}: `${{{exc.name}}}` stands inside `$((...))` in cmd, so its value must be "
            "a whole number"
        ) from None
    except UnknownVariable as exc:
        if exc.name == RESERVED_VAR:
            raise PlanError(
                f"{source}: cmd: DS_PROJECT_HOME is unavailable since you did not add `attach-project-disk` option"
            ) from None
        raise PlanError(f"{source}: cmd: `cmd` contains variable not presented in config: {exc.name}") from None


def _resolve_secret(settings: Settings, secret_id: str, where: str) -> str | None:
    """``settings.resolve_secret``; a name outside the job's secrets (or an unreadable store) is a ``PlanError``."""
    try:
        return settings.resolve_secret(secret_id)
    except SecretsError as exc:
        raise PlanError(f"{where}: {exc}") from None


def _registry_password(config: JobConfig, settings: Settings, secret_id: str) -> str:
    password = _resolve_secret(settings, secret_id, f"{config.source}: env.docker.password")
    if password is None:
        raise PlanError(
            f"{config.source}: env.docker.password: secret {secret_id!r} not found (add it with "
            f"`dsjobs secret set {secret_id}`, as the Airflow Variable/Connection dsjobs_secret_{secret_id}, "
            f"or {env_var_secret_name(secret_id)} for the CLI)"
        )
    return password


def connection_registry_credentials(settings: Settings, image: str) -> tuple[str | None, str | None]:
    """The settings' registry login (an Airflow ``registry_conn_id``) for ``image``: only when the image pulls from
    the registry host the login is for (``settings.registry_host``), so a config or a run's conf that names an image
    elsewhere never gets the password sent there."""
    if not settings.registry_username or not settings.registry_host:
        return None, None
    try:
        same = registry_of(image) == normalize_registry(settings.registry_host)
    except Exception:  # docker's InvalidRepository: the pull fails on its own with a clear message
        same = False
    return (settings.registry_username, settings.registry_password) if same else (None, None)


def _project_image(config: JobConfig, image_lookup: ImageLookup | None) -> ProjectImage | None:
    """The registered project image ``env.docker`` names (only a value without credentials can be an ID)."""
    docker = config.env.docker
    if image_lookup is None or docker is None or docker.username or docker.password:
        return None
    try:
        return image_lookup(docker.image)
    except StoreError as exc:
        raise PlanError(f"{config.source}: env.docker: {exc}") from None


def _resolve_image(
    config: JobConfig,
    settings: Settings,
    image_lookup: ImageLookup | None = None,
    reuse: Reuse | None = None,
    project: str = "",
) -> tuple[str, str | None, str | None, PythonEnvPlan | None]:
    """(image, username, password, python plan or None); a fork's stored Python environment is not planned again
    (and its image stays, unless the fork sets ``env.docker``)."""
    username: str | None = None
    password: str | None = None
    explicit: str | None = None
    docker = config.env.docker
    registered = _project_image(config, image_lookup)
    if registered is not None:
        explicit = registered.image
        username = registered.username
        if registered.password_secret_id:
            password = _registry_password(config, settings, registered.password_secret_id)
            problem = binding_problem(registered, password)
            if problem:
                raise PlanError(f"{config.source}: env.docker: project image {registered.id!r}: {problem}")
    elif docker is not None:
        explicit = docker.image
        username = docker.username
        if docker.password is not None:
            password = _registry_password(config, settings, docker.password.secret_id)
        else:
            conn_user, conn_password = connection_registry_credentials(settings, docker.image)
            if username is None or username == conn_user:
                username, password = conn_user or username, conn_password
    pyplan: PythonEnvPlan | None = None
    if reuse is not None and reuse.python is not None:
        return explicit or reuse.python.image, username, password, None
    if config.env.python is not None:
        try:
            pyplan = plan_python_env(
                config,
                base_dir=Path(config.base_dir),
                image_template=settings.python_image_template,
                explicit_image=explicit,
                container_workdir=WORK_DIR,
                installation=find_installation(settings.python_interpreter) if settings.python_interpreter else None,
                project=project,
            )
        except PyEnvError as exc:
            raise PlanError(str(exc)) from None
    if explicit is not None:
        image = explicit
    elif pyplan is not None and pyplan.image:
        image = pyplan.image
    else:
        image = settings.default_image
    return image, username, password, pyplan


def _spark(config: JobConfig, settings: Settings, spark_lookup: SparkLookup | None) -> SparkEndpoint | None:
    """The Spark endpoint ``spark.connector`` names (an unknown one is a ``PlanError``)."""
    if config.spark is None:
        return None
    where = f"{config.source}: spark.connector"
    connector_id = config.spark.connector
    try:
        resolver = settings.spark_connector_resolver
        resolved = resolver(connector_id) if resolver else None
        if resolved is not None:
            return resolved
        found = spark_lookup(connector_id) if spark_lookup else None
    except StoreError as exc:
        raise PlanError(f"{where}: {exc}") from None
    if found is None:
        raise PlanError(
            f"{where}: unknown Spark connector {connector_id!r}: add it with "
            f"`dsjobs spark-connector add {connector_id} sc://host:port` or define the Airflow connection "
            f"dsjobs_spark_{connector_id} (in Airflow)"
        )
    return found.endpoint(_spark_token(found, settings, config.source))


def _spark_token(connector: SparkConnector, settings: Settings, src: str) -> str | None:
    if not connector.token_secret_id:
        return None
    token = _resolve_secret(settings, connector.token_secret_id, f"{src}: spark.connector {connector.id!r}")
    if token is None:
        raise PlanError(f"{src}: spark.connector: secret {connector.token_secret_id!r} of {connector.id!r} not found")
    problem = token_problem(connector, token)
    if problem is not None:  # a store writer may have pointed the entry elsewhere: the token stays here
        raise PlanError(f"{src}: spark.connector {connector.id!r}: refusing to give it its token secret: {problem}")
    return token


def _project_secrets(settings: Settings, src: str) -> Mapping[str, str]:
    try:
        return settings.project_secrets(settings)
    except SecretsError as exc:
        raise PlanError(f"{src}: project secrets: {exc}") from None


@dataclass
class _Placing:
    """What planning collects while it places each part of the config: the in-container path behind each
    ``${VAR}`` of ``cmd`` and the directories created before start."""

    values: dict[str, str] = field(default_factory=dict)
    directories: list[str] = field(default_factory=lambda: [WORK_DIR, RESULT_DIR])

    def bind(self, container_path: str, *names: str | None) -> str:
        """``${NAME}`` for each given name is ``container_path``; returns the path."""
        for name in names:
            if name:
                self.values[name] = container_path
        return container_path


def _local(entry_path: str, base: Path) -> Path:
    local = Path(entry_path).expanduser()
    return local if local.is_absolute() else base / local


def _place_inputs(config: JobConfig, placing: _Placing, reuse: Reuse | None) -> list[InputPlacement]:
    """Where each input goes; an input ``reuse`` has in the store (a fork's) is not looked for on this machine."""
    src, base = config.source, Path(config.base_dir)
    inputs: list[InputPlacement] = []
    for i, entry in enumerate(config.inputs):
        local = _local(entry.path, base)
        stored = reuse.inputs.get((entry.path, entry.var)) if reuse is not None else None
        if stored is None and not local.exists():
            raise PlanError(f"{src}: inputs[{i}]: no such path: {entry.path} (looked at {local})")
        if entry.var:
            cpath = placing.bind(posixpath.join(INPUTS_DIR, entry.var, _basename(entry.path)), entry.var)
        else:
            cpath = posixpath.join(WORK_DIR, _container_relpath(entry.path, f"{src}: inputs[{i}]"))
        is_dir = stored.kind == "dir" if stored is not None else local.is_dir()
        inputs.append(InputPlacement(entry.path, entry.var, local.resolve(), cpath, is_dir, stored))
    return inputs


def _place_outputs(config: JobConfig, placing: _Placing) -> list[OutputPlacement]:
    src, base = config.source, Path(config.base_dir)
    outputs: list[OutputPlacement] = []
    for i, entry in enumerate(config.outputs):
        local = _local(entry.path, base)
        if entry.var:
            cpath = placing.bind(posixpath.join(OUTPUTS_DIR, entry.var, _basename(entry.path)), entry.var)
        else:
            cpath = posixpath.join(WORK_DIR, _container_relpath(entry.path, f"{src}: outputs[{i}]"))
        placing.directories.append(posixpath.dirname(cpath))
        outputs.append(OutputPlacement(entry.path, entry.var, cpath, local))
    return outputs


def _place_datasets(config: JobConfig, placing: _Placing) -> list[DatasetPlacement]:
    datasets: list[DatasetPlacement] = []
    for res in config.datasets:
        cpath = placing.bind(posixpath.join(DATASETS_DIR, res.id), res.id, res.var)
        datasets.append(DatasetPlacement(res.id, res.var, cpath))
    return datasets


def _place_s3_mounts(
    config: JobConfig,
    placing: _Placing,
    settings: Settings,
    environ: Mapping[str, str],
    connector_lookup: ConnectorLookup | None,
) -> list[S3MountPlacement]:
    mounts: list[S3MountPlacement] = []
    for i, res in enumerate(config.s3_mounts):
        source = resolve_s3_source(res.id, f"{config.source}: s3-mounts[{i}]", settings, environ, connector_lookup)
        cpath = placing.bind(posixpath.join(S3_MOUNTS_DIR, res.id), res.id, res.var)
        mounts.append(S3MountPlacement(res.id, res.var, source, cpath))
    return mounts


def _place_output_datasets(config: JobConfig, placing: _Placing) -> list[OutputDatasetPlacement]:
    out_datasets: list[OutputDatasetPlacement] = []
    for ds in config.output_datasets:
        cpath = placing.bind(posixpath.join(OUTPUT_DATASETS_DIR, ds.name), ds.var)
        placing.directories.append(cpath)
        out_datasets.append(OutputDatasetPlacement(ds.name, ds.var, cpath, ds.description, ds.labels, ds.size_bytes))
    return out_datasets


def _job_env(
    config: JobConfig, project_secrets: Mapping[str, str], job_id: str, project: str, environ: Mapping[str, str]
) -> dict[str, str]:
    """The container's environment: the project's secrets, ``env.vars`` (``- NAME`` copied from ``environ``;
    they take precedence) and the job's own."""
    env: dict[str, str] = {"PYTHONUNBUFFERED": "1"}
    # Every project secret reaches the job under its own name; the config's own env vars take precedence.
    env.update(project_secrets)
    if config.attach_project_disk:
        env[RESERVED_VAR] = PROJECT_DIR
    for j, var in enumerate(config.env.vars):
        if var.from_env:
            copied = environ.get(var.name)
            if copied is None:
                raise PlanError(f"{config.source}: env.vars[{j}]: environment var `{var.name}` is missing")
            env[var.name] = copied
        else:
            env[var.name] = var.value or ""
    env.update({"DSJOBS_JOB_ID": job_id, "DSJOBS_JOB_NAME": config.name or "", "DSJOBS_PROJECT": project})
    env[RESULT_ENV] = RESULT_PATH
    return env


def _python_setup(
    pyplan: PythonEnvPlan | None, inputs: list[InputPlacement], reuse: Reuse | None, project: str
) -> tuple[PythonSetup | None, list[ExtraFile], list[ExtraBytes]]:
    """The Python environment's part of the plan: its setup (a fork's as stored, else planned now), the local
    modules to ship (an entry script the config also lists as an input travels once) and the builder's files."""
    python: PythonSetup | None = None
    extra: list[ExtraFile] = []
    if reuse is not None and reuse.python is not None:
        python = _for_project(reuse.python, project)
        extra = [ExtraFile(Path(cpath), cpath, stored) for cpath, stored in reuse.extra_files]
    elif pyplan is not None:
        python = python_setup_of(pyplan)
        shipped = {i.container_path for i in inputs}
        input_dirs = tuple(i.container_path + "/" for i in inputs if i.is_dir)
        for local, rel in pyplan.local_files:
            cpath = posixpath.join(WORK_DIR, rel)
            if cpath not in shipped and not cpath.startswith(input_dirs):
                extra.append(ExtraFile(Path(local), cpath))
    extra_bytes = [ExtraBytes(path, content) for path, content in python_build_files(python)] if python else []
    return python, extra, extra_bytes


def _for_project(python: PythonSetup, project: str) -> PythonSetup:
    """A fork's stored environment in ``project``'s own volume, with the build step (a plan stored before
    environments were per project and read-only named a shared volume that jobs wrote to)."""
    if (python.volume_labels.get(LABEL_PROJECT) == project and python.build_command) or not python.spec_json:
        return python
    keyed = keyed_env(python.spec_json, project)
    return replace(
        python,
        volume_name=keyed.volume_name,
        volume_labels=keyed.volume_labels,
        setup_command=keyed.setup_command,
        build_command=keyed.build_command,
        ready_path=keyed.ready_path,
        build_log=keyed.build_log,
    )


def plan_job(
    config: JobConfig,
    settings: Settings,
    *,
    job_id: str,
    project: str | None = None,
    labels: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    image_lookup: ImageLookup | None = None,
    connector_lookup: ConnectorLookup | None = None,
    spark_lookup: SparkLookup | None = None,
    reuse: Reuse | None = None,
    secret_env_names: Collection[str] = (),
) -> JobPlan:
    """Resolve ``config`` into a ``JobPlan`` for job ``job_id``. ``environ`` is the submitter's environment
    (``os.environ`` by default), read for ``- NAME`` env vars and s3-mount IDs; ``image_lookup`` finds project
    images by ID (``resources/images.py``), ``connector_lookup`` S3 connectors (``resources/s3_connectors.py``);
    the project's secrets come from ``settings.project_secrets``. ``reuse`` (a fork) names the inputs and the
    Python environment already stored: those are not read from this machine. ``secret_env_names`` (the DAG author's
    ``secret_env_vars``) join the project's secrets and sensitive-looking names as env vars the stored log masks."""
    environ = os.environ if environ is None else environ
    project = project or settings.project
    placing = _Placing()
    inputs = _place_inputs(config, placing, reuse)
    outputs = _place_outputs(config, placing)
    datasets = _place_datasets(config, placing)
    mounts = _place_s3_mounts(config, placing, settings, environ, connector_lookup)
    out_datasets = _place_output_datasets(config, placing)
    volumes: dict[str, dict[str, str]] = {}
    if config.attach_project_disk:
        placing.values[RESERVED_VAR] = PROJECT_DIR
        volumes[project_volume_name(project)] = {"bind": PROJECT_DIR, "mode": "ro"}
    project_secrets = _project_secrets(settings, config.source)
    env = _job_env(config, project_secrets, job_id, project, environ)

    image, username, password, pyplan = _resolve_image(config, settings, image_lookup, reuse, project)
    rendered = resolve_command(config.cmd.strip(), placing.values, dict(config.args), config.source)
    script = rendered.text
    python, extra, extra_bytes = _python_setup(pyplan, inputs, reuse, project)
    if python is not None:
        # read-only: the build step alone writes the environment (jobs/env_build.py), no job can change it
        volumes[python.volume_name] = {"bind": python.volume_mount, "mode": "ro"}
        script = f"{python.setup_command}\n{script}" if python.setup_command else script

    graceful = config.graceful_shutdown
    all_labels = {str(k): str(v) for k, v in (labels or {}).items()}
    all_labels.update({LABEL_JOB_ID: job_id, LABEL_PROJECT: project})
    spark = _spark(config, settings, spark_lookup)
    if spark is not None:
        env.update(spark.job_env())
        extra_bytes.append(ExtraBytes(SPARK_CONFIG_PATH, spark.connection_config()))
    env.update(rendered.env)  # last: a secret or env var of the same name must not change what cmd expands
    env = portable_env(env)
    return JobPlan(
        job_id=job_id,
        project=project,
        name=config.name,
        image=image,
        registry_username=username,
        registry_password=password,
        script=script,
        command=tuple(shell_command(script, restore_env=ENV_NAMES_VAR in env)),
        env=env,
        labels=all_labels,
        instance_types=instance_profiles(config.cloud_instance_types, settings, config.source),
        graceful_signal=graceful.signal if graceful else None,
        graceful_timeout=(graceful.timeout_seconds or DEFAULT_GRACEFUL_TIMEOUT) if graceful else None,
        inputs=tuple(inputs),
        outputs=tuple(outputs),
        extra_files=tuple(extra),
        extra_bytes=tuple(extra_bytes),
        datasets=tuple(datasets),
        s3_mounts=tuple(mounts),
        output_datasets=tuple(out_datasets),
        directories=tuple(dict.fromkeys(placing.directories)),
        volumes=volumes,
        python=python,
        working_storage_bytes=config.working_storage.size_gb << 30 if config.working_storage else None,
        secret_env_names=_secret_env_names(env, {*project_secrets, *secret_env_names}),
    )


def _secret_env_names(env: Mapping[str, str], named: Collection[str]) -> frozenset[str]:
    """The env vars whose values are secret: a project secret, named by the caller, or sensitive by name."""
    return frozenset(n for n in env if n in named or is_sensitive_name(n))


def instance_profiles(names: Sequence[str], settings: Settings, source: str) -> tuple[InstanceType, ...]:
    """The named profiles from the settings' catalog (a name it lacks: one line naming the known ones)."""
    catalog = settings.instance_catalog
    for name in names:
        if name not in catalog:
            raise PlanError(
                f"{source}: cloud-instance-types: unknown instance type `{name}` (known: {catalog.names()})"
            )
    return tuple(catalog[name] for name in names)
