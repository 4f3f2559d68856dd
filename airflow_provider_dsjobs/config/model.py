"""The typed, normalized form of a ``config.yaml``.

Every later component (planning, staging, runtime, the Airflow layer) consumes these classes and never
the raw YAML. Values are already validated and in their canonical long form: lists are tuples, sizes are
bytes, durations are seconds, the Python version is a ``"major.minor"`` string.

:mod:`.serialize` decides how a config becomes a mapping (its long JSON form and its ``config.yaml`` form).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

PythonEnvType = Literal["auto", "manual"]

#: Flag that mounts the project folder read-only and defines ``DS_PROJECT_HOME``.
ATTACH_PROJECT_DISK = "attach-project-disk"
#: The one variable name a user may not declare.
RESERVED_VAR = "DS_PROJECT_HOME"
#: Instance type used when the config names none (as in DataSphere).
DEFAULT_INSTANCE_TYPE = "c1.4"
#: The signals ``graceful-shutdown`` may name (DataSphere's set), in the order messages list them: the one
#: table the semantic checks, the shell wrapper (``runtime/shell.py``) and a test of ``schema.json``'s enum use.
GRACEFUL_SIGNALS = ("SIGTERM", "SIGINT", "SIGHUP", "SIGUSR1", "SIGUSR2")


@dataclass(frozen=True)
class PathEntry:
    """One ``inputs``/``outputs`` entry: a local path, optionally bound to a ``${VAR}``."""

    path: str
    var: str | None = None


@dataclass(frozen=True)
class ResourceEntry:
    """One ``datasets``/``s3-mounts`` entry: a resource ID, optionally bound to a ``${VAR}``."""

    id: str
    var: str | None = None


@dataclass(frozen=True)
class EnvVar:
    """One ``env.vars`` entry. ``from_env`` means "copy NAME from the submitter's environment"."""

    name: str
    value: str | None = None
    from_env: bool = False


@dataclass(frozen=True)
class SecretRef:
    """A reference to a secret by name (an Airflow Variable/Connection or an environment variable)."""

    secret_id: str


@dataclass(frozen=True)
class DockerImage:
    """``env.docker``: an image reference plus optional registry credentials (password by secret only)."""

    image: str
    username: str | None = None
    password: SecretRef | None = None


@dataclass(frozen=True)
class PipOptions:
    """``env.python.pip``: options passed to ``pip install``."""

    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    trusted_hosts: tuple[str, ...] = ()
    no_deps: bool = False


@dataclass(frozen=True)
class PythonEnv:
    """``env.python``.

    ``version`` is always set (``"major.minor"``): when the config omits it, the loader fills in the
    interpreter version of the submitting machine, as DataSphere does. ``version_given`` records whether
    the user wrote it. ``local_paths`` is ``None`` when not given (detect automatically) and ``()`` when
    given as an empty list (ship no local modules).
    """

    type: PythonEnvType = "auto"
    version: str = ""
    version_given: bool = False
    requirements_file: str | None = None
    local_paths: tuple[str, ...] | None = None
    root_paths: tuple[str, ...] = ()
    pip: PipOptions = field(default_factory=PipOptions)

    @property
    def fully_manual(self) -> bool:
        """All of version, requirements file and local paths given: no analysis runs at all."""
        return (
            self.type == "manual"
            and self.version_given
            and self.requirements_file is not None
            and self.local_paths is not None
        )


@dataclass(frozen=True)
class Env:
    """``env``: variables, image, Python environment."""

    vars: tuple[EnvVar, ...] = ()
    docker: DockerImage | None = None
    python: PythonEnv | None = None


@dataclass(frozen=True)
class WorkingStorage:
    """``working-storage``: an extended scratch directory for the job."""

    size_bytes: int
    type: str = "SSD"

    @property
    def size_gb(self) -> int:
        """Size in whole GiB, rounded up (as DataSphere does)."""
        return -(-self.size_bytes // (1 << 30))


@dataclass(frozen=True)
class GracefulShutdown:
    """``graceful-shutdown``: the signal sent on cancel and how long to wait before SIGKILL."""

    signal: str = "SIGTERM"
    timeout_seconds: float | None = None


@dataclass(frozen=True)
class OutputDataset:
    """One ``output-datasets`` entry: a directory (``${var}``) published as a dataset after success."""

    name: str
    var: str
    size_bytes: int
    description: str = ""
    labels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Spark:
    """``spark``: a Spark connector ID."""

    connector: str


@dataclass(frozen=True)
class JobConfig:
    """A whole validated ``config.yaml``.

    ``base_dir`` is the directory relative local paths resolve against (the config file's directory,
    or the directory given by the caller for a config passed as a mapping). ``source`` names the file
    for messages (``"<dict>"`` for a mapping). ``raw_text`` is the YAML as written (kept with the job
    record for reproducibility; secrets are never written in it because passwords are refs only).
    """

    cmd: str
    name: str | None = None
    desc: str | None = None
    args: tuple[tuple[str, str], ...] = ()
    inputs: tuple[PathEntry, ...] = ()
    outputs: tuple[PathEntry, ...] = ()
    s3_mounts: tuple[ResourceEntry, ...] = ()
    datasets: tuple[ResourceEntry, ...] = ()
    env: Env = field(default_factory=Env)
    flags: tuple[str, ...] = ()
    #: in priority order; () when the config names none (the job gets the engine's resources)
    cloud_instance_types: tuple[str, ...] = ()
    working_storage: WorkingStorage | None = None
    graceful_shutdown: GracefulShutdown | None = None
    output_datasets: tuple[OutputDataset, ...] = ()
    spark: Spark | None = None
    base_dir: Path = field(default_factory=Path.cwd, compare=False)
    source: str = field(default="<dict>", compare=False)
    raw_text: str | None = field(default=None, compare=False, repr=False)

    @property
    def attach_project_disk(self) -> bool:
        return ATTACH_PROJECT_DISK in self.flags

    def with_changes(self, **changes: Any) -> JobConfig:
        """A copy with some fields replaced (used by overrides; callers re-validate)."""
        return replace(self, **changes)
