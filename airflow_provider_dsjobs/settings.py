"""Where jobs run and where their data lives: one settings object for the CLI and the Airflow hook.

The CLI builds it from ``DSJOBS_*`` environment variables (``Settings.from_env``); the Airflow hook builds it
from a ``dsjobs`` connection and falls back to ``from_env``. With nothing configured, everything has an
embedded default, so a newcomer runs a job with no cloud account: a local-directory store under
``~/.dsjobs``, the local Docker engine, an ordinary public image.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_provider_dsjobs.config.errors import ConfigError
from airflow_provider_dsjobs.config.instance_types import BUILTIN_CATALOG, InstanceCatalog, default_catalog
from airflow_provider_dsjobs.config.units import SIZE_UNITS, parse_size
from airflow_provider_dsjobs.resources.secrets import FileSecretStore, SecretsError, env_var_secret_name
from airflow_provider_dsjobs.runtime.limits import DEFAULT_PIDS_LIMIT

if TYPE_CHECKING:
    import boto3.session

    from airflow_provider_dsjobs.resources.s3_connectors import S3Source
    from airflow_provider_dsjobs.resources.spark import SparkEndpoint

#: Image for jobs without ``env.docker`` and without a Python environment.
DEFAULT_IMAGE = "python:3.11-slim"
#: Image for a job whose ``env.python`` asks for Python ``{version}`` (``"major.minor"``).
DEFAULT_PYTHON_IMAGE_TEMPLATE = "python:{version}-slim"
DEFAULT_PROJECT = "default"
#: When a job's image is pulled: ``always`` (before every job, like DockerOperator's ``force_pull``), ``if-missing``
#: (only when the engine lacks it) or ``never`` (a missing image fails the job).
IMAGE_PULL_POLICIES = ("always", "if-missing", "never")
DEFAULT_IMAGE_PULL_POLICY = "if-missing"
#: DataSphere's input limits (datasphere-cli.md §7.1): one file ≤ 5 GiB, all inputs of a job ≤ 10 GiB
#: (``DSJOBS_MAX_INPUT_FILE_SIZE`` / ``DSJOBS_MAX_JOB_INPUT_SIZE``, connection extras ``max_input_file_size`` /
#: ``max_job_input_size``).
DEFAULT_MAX_INPUT_FILE_SIZE = 5 * SIZE_UNITS["GB"]
DEFAULT_MAX_JOB_INPUT_SIZE = 10 * SIZE_UNITS["GB"]
#: Where lazy S3 mounts live on the engine host (``DSJOBS_LAZY_MOUNT_ROOT``; scripts/ensure-lazy-mounts.sh makes it).
DEFAULT_LAZY_MOUNT_ROOT = "/var/lib/dsjobs/lazy-mounts"

#: Resolves a ``secret-id`` to its value, or ``None`` when there is no such secret; raises ``SecretsError`` (one
#: line) for a name outside the secrets a job may name.
SecretResolver = Callable[[str], "str | None"]
#: All secrets of the settings' project (``resources/secrets.py``), read when a job is planned.
ProjectSecretsLoader = Callable[["Settings"], Mapping[str, str]]
#: Resolves an ``s3-mounts`` ID before the project's registry does (Airflow connections in Airflow): ``None`` when
#: it does not know the ID; raises ``StoreError`` (one line) when it knows it but cannot resolve it.
S3ConnectorResolver = Callable[[str], "S3Source | None"]
#: Resolves a ``spark.connector`` ID before the project's registry does (same contract).
SparkConnectorResolver = Callable[[str], "SparkEndpoint | None"]


def file_project_secrets(settings: Settings) -> Mapping[str, str]:
    """The CLI's project secrets: ``<home>/secrets/<project>.json`` (``dsjobs secret set``)."""
    return FileSecretStore(settings.home, settings.project).load()


def default_home(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(env.get("DSJOBS_HOME") or Path.home() / ".dsjobs")


#: The setting that lets a ``secret-id`` name secrets outside the project's (env ``DSJOBS_ALLOWED_SECRET_IDS``,
#: connection extra ``allowed_secret_ids``): comma-separated glob patterns, any case; none by default.
ALLOWED_SECRET_IDS_SETTING = "DSJOBS_ALLOWED_SECRET_IDS"


def split_patterns(value: object) -> tuple[str, ...]:
    """Glob patterns: a list, or one comma-separated string."""
    items = value if isinstance(value, (list, tuple)) else str(value or "").split(",")
    return tuple(str(item).strip() for item in items if str(item).strip())


def secret_id_allowed(secret_id: str, patterns: Sequence[str]) -> bool:
    """Whether ``secret_id`` matches one of the glob ``patterns`` (case-insensitive)."""
    return any(fnmatch.fnmatchcase(secret_id.lower(), pattern.lower()) for pattern in patterns)


def out_of_scope(secret_id: str, patterns: Sequence[str], namespaced: str) -> SecretsError:
    """The one-line refusal of a ``secret-id`` that names something outside the job's secrets."""
    allowed = ", ".join(patterns) or "none"
    return SecretsError(
        f"secret {secret_id!r} is not a project secret nor {namespaced}, and {secret_id!r} is outside "
        f"{ALLOWED_SECRET_IDS_SETTING} / the connection extra allowed_secret_ids (now: {allowed})"
    )


def env_secret_resolver(env: Mapping[str, str] | None = None, allowed: Sequence[str] = ()) -> SecretResolver:
    """The CLI's secrets: ``DSJOBS_SECRET_<ID>`` (ID upper-cased, ``-`` → ``_``); an env var named ID only when ID
    matches ``allowed`` (a worker's environment holds credentials no job should name): one that exists outside it
    is refused, one that does not is simply not found."""
    source = os.environ if env is None else env

    def resolve(secret_id: str) -> str | None:
        key = env_var_secret_name(secret_id)
        found = source.get(key)
        if found:
            return found
        found = source.get(secret_id)
        if found and not secret_id_allowed(secret_id, allowed):
            raise out_of_scope(secret_id, allowed, key)
        return found or None

    return resolve


_SWITCH_ON = ("1", "true", "yes", "on")
_SWITCH_OFF = ("0", "false", "no", "off")


def parse_switch(name: str, value: object, default: bool) -> bool:
    """An on/off setting: a bool, ``None``/``""`` (the default) or one of 1/0, true/false, yes/no, on/off (any
    case); anything else is a ``ValueError`` naming the setting and what it accepts."""
    if isinstance(value, bool):
        return value
    text = "" if value is None else str(value).strip().lower()
    if not text:
        return default
    if text in _SWITCH_ON or text in _SWITCH_OFF:
        return text in _SWITCH_ON
    raise ValueError(f"{name} must be 1 or 0 (also true/false, yes/no, on/off), got {value!r}")


def parse_pids_limit(name: str, value: object) -> int:
    """A pids limit: an integer (``0`` or less: no limit), ``None``/``""`` for the default; anything else is a
    ``ValueError`` naming the setting."""
    text = "" if value is None else str(value).strip()
    if not text:
        return DEFAULT_PIDS_LIMIT
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{name} must be a whole number of processes (0 or -1: no limit), got {value!r}") from None


def parse_size_setting(name: str, value: object, default: int) -> int:
    """A size setting (``5GB``, ``500MB``, digits for bytes), ``None``/``""`` for ``default``; anything else, or
    zero, is a one-line ``ValueError`` naming the setting and what it accepts."""
    text = "" if value is None else str(value).strip()
    if not text:
        return default
    if not text.isprintable():  # a control character would break the error line apart
        raise ValueError(f"{name} is not a size like `5GB` or `500MB`, got {text[:40]!r}")
    try:
        size = parse_size(text)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None
    if size <= 0:
        raise ValueError(f"{name} must be a size above zero, e.g. `5GB`, got {value!r}")
    return size


#: Engine cache volumes (Python environments, datasets, S3 mounts, ML Lab ``/data``, project disks) that no job used
#: for this many days go at the next ``dsjobs gc`` (``DSJOBS_CACHE_MAX_AGE_DAYS``, extra ``cache_max_age_days``).
DEFAULT_CACHE_MAX_AGE_DAYS = 30.0
_NEVER = ("never", "off", "none")
_MAX_CACHE_DAYS = 36500
#: Kubernetes-style binary suffixes a cache budget may use besides ``KB``..``PB`` (the same multipliers).
_BINARY_SUFFIX = re.compile(r"(?i)(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>[KMGTP])i(?:B)?")


def parse_cache_max_age(name: str, value: object) -> float | None:
    """Days after which an unused engine cache goes: a number above zero (``30``, ``0.5``), ``never`` (or
    ``off``: caches never expire by age), ``None``/``""`` for the default; anything else is one ``ValueError``
    line naming the setting and what it accepts."""
    text = "" if value is None else str(value).strip()
    if not text:
        return DEFAULT_CACHE_MAX_AGE_DAYS
    if text.lower() in _NEVER:
        return None
    try:
        days = float(text) if not isinstance(value, bool) else float("nan")
    except ValueError:
        days = float("nan")
    if not 0 < days <= _MAX_CACHE_DAYS:
        raise ValueError(
            f"{name} must be a number of days above zero and at most {_MAX_CACHE_DAYS} (e.g. 30 or 0.5) or never, "
            f"got {_shown(text)}"
        )
    return days


def _shown(text: str) -> str:
    """A bad setting value as an error line shows it: short, quoted, control characters escaped."""
    return ascii(text[:40]) if not text.isprintable() else repr(text[:40])


def parse_cache_budget(name: str, value: object) -> int | None:
    """The most bytes a project's engine caches may hold: a size (``50Gi``, ``50GB``, ``500MB``, digits for bytes),
    ``None``/``""``/``none`` for no budget; anything else, or zero, is one ``ValueError`` line naming the setting."""
    text = "" if value is None else str(value).strip()
    if not text or text.lower() in _NEVER:
        return None
    binary = _BINARY_SUFFIX.fullmatch(text)
    try:
        size = parse_size(f"{binary.group('number')}{binary.group('unit').upper()}B" if binary else text)
    except ValueError:
        size = 0
    if size <= 0:
        raise ValueError(
            f"{name} must be a size above zero such as `50Gi`, `50GB` or `500MB` (digits alone: bytes), or none, "
            f"got {_shown(text)}"
        )
    return size


#: What an engine name may be (``DSJOBS_ENGINE_NAME``, the keys of ``DSJOBS_ENGINES``).
ENGINE_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")


def parse_json_object(value: object, where: str, shape: str) -> dict[str, Any]:
    """A setting or connection extra that holds a JSON object: a ``dict`` as is, or its JSON text (as environment
    variables and connection forms hold it); ``{}`` when unset or empty. Anything else is one ``ValueError`` line
    naming ``where`` and the ``shape`` it must have."""
    if value is None or value == "":
        return {}
    data = value
    if isinstance(value, str):
        try:
            data = json.loads(value)
        except ValueError:
            raise ValueError(f"{where} is not a JSON object: it must be {shape}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{where} must be {shape}")
    return data


_ENGINE_KEYS = ("url", "tls_ca_cert", "tls_client_cert", "tls_client_key", "tls_verify")


def check_engine_name(name: str, where: str = "engine name") -> str:
    """``name`` if it is a valid engine name, else a one-line ``ValueError`` saying what is allowed."""
    if not isinstance(name, str) or not ENGINE_NAME_PATTERN.fullmatch(name):
        raise ValueError(f"{where} {name!r} is not allowed: use 1-63 letters, digits, '.', '_' or '-'")
    return name


@dataclass(frozen=True)
class EngineAddress:
    """How this machine reaches one engine of ``Settings.engines``: its URL and TLS files (paths, as for the own
    engine's ``docker_tls_*``)."""

    url: str
    tls_ca_cert: str | None = None
    tls_client_cert: str | None = None
    tls_client_key: str | None = None
    tls_verify: bool = True


def parse_engines(value: object, where: str = "DSJOBS_ENGINES") -> dict[str, EngineAddress]:
    """The engine map: a JSON object (or a dict) ``{name: {"url": ..., "tls_ca_cert": ..., "tls_client_cert": ...,
    "tls_client_key": ..., "tls_verify": ...}}`` or ``{name: "url"}``; anything else is one ``ValueError`` line."""
    data = parse_json_object(value, where, "an object of engine names and addresses")
    engines: dict[str, EngineAddress] = {}
    for name, entry in data.items():
        check_engine_name(name, f"{where}: engine name")
        spec = {"url": entry} if isinstance(entry, str) else entry
        if not isinstance(spec, dict) or not isinstance(spec.get("url"), str) or not spec["url"]:
            raise ValueError(f"{where}: engine {name} needs a url (unix:///path, tcp://host:port or ssh://user@host)")
        unknown = sorted(set(spec) - set(_ENGINE_KEYS))
        if unknown:
            raise ValueError(
                f"{where}: engine {name} has unknown keys {', '.join(map(repr, unknown))}; allowed: "
                + ", ".join(_ENGINE_KEYS)
            )
        paths = {k: spec.get(k) for k in _ENGINE_KEYS[1:4]}
        if any(v is not None and not isinstance(v, str) for v in paths.values()):
            raise ValueError(f"{where}: engine {name}: TLS entries are paths of certificate and key files")
        engines[name] = EngineAddress(
            url=spec["url"],
            tls_ca_cert=paths["tls_ca_cert"] or None,
            tls_client_cert=paths["tls_client_cert"] or None,
            tls_client_key=paths["tls_client_key"] or None,
            tls_verify=parse_switch(f"{where}: engine {name} tls_verify", spec.get("tls_verify"), True),
        )
    return engines


def _seconds(text: str | None, default: float) -> float:
    try:
        return max(0.0, float(text)) if text is not None else default
    except ValueError:
        return default


@dataclass(frozen=True)
class Settings:
    """Connection-level settings. Credentials are kept out of ``repr`` so they never reach a log."""

    store_url: str | None = None
    project: str = DEFAULT_PROJECT
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    #: botocore's checksum mode for S3 requests: ``when_required`` (default: what S3-compatible stores accept) or
    #: ``when_supported`` (boto3's default, CRC32 on every upload; faster against moto, see bench/README.md).
    s3_checksums: str = "when_required"
    #: A local (``file://``) store fsyncs each object and the directory it is renamed into before calling it
    #: written, so a write survives a crash or power cut. ``False`` (``DSJOBS_LOCAL_FSYNC=0``) skips both: objects
    #: are still written under a temporary name and renamed, so no process ever reads half an object, but the
    #: last seconds of writes may be lost or empty after a crash (bench/README.md has the speed it buys).
    local_fsync: bool = True
    aws_access_key_id: str | None = field(default=None, repr=False)
    aws_secret_access_key: str | None = field(default=None, repr=False)
    aws_session_token: str | None = field(default=None, repr=False)
    #: A boto3 session for the store and S3 mounts instead of the keys above: the Airflow layer passes the ``aws``
    #: connection's when its credentials expire (assume-role), so botocore refreshes them for as long as the job,
    #: the deferral or the triggerer lives (``hooks/aws_credentials.py``).
    aws_session: boto3.session.Session | None = field(default=None, repr=False, compare=False)
    docker_url: str | None = None
    docker_tls_ca_cert: str | None = None
    docker_tls_client_cert: str | None = None
    docker_tls_client_key: str | None = None
    docker_tls_verify: bool = True
    #: Allow a ``tcp://`` engine without TLS (``DSJOBS_DOCKER_ALLOW_INSECURE=1``); refused by default, since whoever
    #: reaches that port runs containers as root on the engine's machine (``runtime/engine.py``).
    docker_allow_insecure: bool = False
    #: The name this machine's engine goes by in job records (``None``: the engine's host name from ``docker info``).
    engine_name: str | None = None
    #: Other engines this machine may ask about their jobs: name → address (``DSJOBS_ENGINES``, ``jobs/ownership.py``).
    engines: Mapping[str, EngineAddress] = field(default_factory=dict)
    #: Docker network for job containers (``None``: the engine's default bridge; ``"host"`` to reach loopback).
    docker_network: str | None = None
    #: Whether a read-only s3-mount that asks to be lazy gets an s3fs FUSE mount on the engine (``DSJOBS_LAZY_MOUNTS``;
    #: off: such mounts are engine caches, as every read-only one), the image with s3fs its helper runs
    #: (``DSJOBS_S3FS_IMAGE``) and the directory *of the engine host*, a shared mount, the mounts live under
    #: (``DSJOBS_LAZY_MOUNT_ROOT``). See ``resources/s3_lazy.py`` and docs/howto/data-caching.md.
    lazy_mounts: bool = False
    s3fs_image: str | None = None
    lazy_mount_root: str = DEFAULT_LAZY_MOUNT_ROOT
    #: ``--pids-limit`` of every job and helper container (``DEFAULT_PIDS_LIMIT``; ``0`` or less: no limit).
    pids_limit: int = DEFAULT_PIDS_LIMIT
    #: The largest input file a job may stage, and the most all of a job's inputs may add up to (bytes).
    max_input_file_size: int = DEFAULT_MAX_INPUT_FILE_SIZE
    max_job_input_size: int = DEFAULT_MAX_JOB_INPUT_SIZE
    registry_username: str | None = None
    registry_password: str | None = field(default=None, repr=False)
    #: the registry host ``registry_username``/``registry_password`` are for (the registry connection's host): they
    #: are sent to no other registry, and to none when it is unknown
    registry_host: str | None = None
    default_image: str = DEFAULT_IMAGE
    python_image_template: str = DEFAULT_PYTHON_IMAGE_TEMPLATE
    console_url_template: str | None = None
    #: One of ``IMAGE_PULL_POLICIES``.
    image_pull_policy: str = DEFAULT_IMAGE_PULL_POLICY
    #: Python installation (an interpreter or a virtualenv) whose packages pin ``python: auto`` imports; ``None``:
    #: the one running this process. On an Airflow worker: the project's environment, not Airflow's.
    python_interpreter: str | None = None
    home: Path = field(default_factory=default_home)
    #: Remember input files' hashes across processes in ``<home>/cache`` (``DSJOBS_HASH_CACHE=0`` turns it off:
    #: every run then re-reads its inputs to hash them, as a fresh process did before).
    hash_cache: bool = True
    #: ML Lab jobs see these as ``LAB_ENDPOINT`` / ``LAB_API_TOKEN`` (the token is never stored).
    lab_endpoint: str | None = None
    lab_api_token: str | None = field(default=None, repr=False)
    #: Directories where an ``EXECUTE_CODE`` set at run time (a param, run conf, a templated field) may name local
    #: code (a path or ``git+file://``); none by default (``DSJOBS_LAB_CODE_ROOTS``, ``os.pathsep``-separated).
    lab_code_roots: tuple[str, ...] = ()
    #: ``submit`` deletes expired job data itself at most this often per project (seconds; ``0``: never, leave it
    #: to ``dsjobs gc`` or a maintenance DAG), spending at most ``auto_gc_budget`` seconds on it.
    auto_gc_interval: float = 3600.0
    auto_gc_budget: float = 5.0
    #: ``gc`` removes engine cache volumes no job used for this many days (``None``: never by age), and the least
    #: recently used ones while a project's caches on the engine hold more than ``cache_budget`` bytes (``None``:
    #: no budget). See ``jobs/cache_gc.py``.
    cache_max_age_days: float | None = DEFAULT_CACHE_MAX_AGE_DAYS
    cache_budget: int | None = None
    #: While a job is followed, sample its container's CPU/memory into ``logs/docker_stats.tsv`` this often
    #: (seconds; ``0``: not at all).
    stats_interval: float = 10.0
    #: A job whose ``working-storage`` does not fit on the engine's disk (which cannot reserve space): ``fail`` the
    #: submit (default) or ``warn`` and run it anyway (``jobs/working_storage.py``).
    working_storage_check: str = "fail"
    #: Glob patterns of ``secret-id`` values that may name secrets outside the project's
    #: (``DSJOBS_ALLOWED_SECRET_IDS``): env vars for the CLI, Airflow Variables and Connections in Airflow. Empty: none.
    allowed_secret_ids: tuple[str, ...] = ()
    secret_resolver: SecretResolver = field(default_factory=env_secret_resolver, repr=False, compare=False)
    #: Every secret of the project, given to every job as env vars of the same name.
    project_secrets: ProjectSecretsLoader = field(default=file_project_secrets, repr=False, compare=False)
    #: Where S3 connector and Spark connector IDs resolve first (``None``: the project's registries only).
    s3_connector_resolver: S3ConnectorResolver | None = field(default=None, repr=False, compare=False)
    spark_connector_resolver: SparkConnectorResolver | None = field(default=None, repr=False, compare=False)
    #: The instance type names jobs may use: the built-in ones plus ``DSJOBS_INSTANCE_TYPES``'s file (in Airflow,
    #: plus the connection's extra ``instance_types``).
    instance_catalog: InstanceCatalog = field(default=BUILTIN_CATALOG, repr=False, compare=False)

    def resolve_secret(self, secret_id: str) -> str | None:
        """A ``secret-id``: the project's secret of that name, else ``secret_resolver`` (in Airflow the Variable or
        Connection ``dsjobs_secret_<ID>``, for the CLI ``DSJOBS_SECRET_<ID>``; other names only as
        ``allowed_secret_ids`` lets them). ``SecretsError`` for a name out of scope."""
        found = self.project_secrets(self).get(secret_id)
        return found if found is not None else self.secret_resolver(secret_id)

    def __post_init__(self) -> None:
        check_pull_policy(self.image_pull_policy)
        if self.working_storage_check not in ("fail", "warn"):
            raise ValueError(f"working storage check must be fail or warn, got {self.working_storage_check!r}")
        if self.engine_name is not None:
            check_engine_name(self.engine_name)

    @property
    def effective_store_url(self) -> str:
        """The store URL, or the embedded local-directory store under ``home``."""
        return self.store_url or (self.home / "store").resolve().as_uri()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``DSJOBS_*`` variables (plus ``DOCKER_HOST`` and the standard AWS ones, which boto3
        reads by itself when no explicit key is given)."""
        e = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = e.get(name)
            return value if value else None

        return cls(
            store_url=get("DSJOBS_STORE"),
            project=get("DSJOBS_PROJECT") or DEFAULT_PROJECT,
            s3_endpoint_url=get("DSJOBS_S3_ENDPOINT_URL") or get("AWS_ENDPOINT_URL_S3") or get("AWS_ENDPOINT_URL"),
            s3_region=get("DSJOBS_S3_REGION"),
            s3_checksums=get("DSJOBS_S3_CHECKSUMS") or "when_required",
            local_fsync=parse_switch("DSJOBS_LOCAL_FSYNC", get("DSJOBS_LOCAL_FSYNC"), True),
            docker_url=get("DSJOBS_DOCKER_URL") or get("DOCKER_HOST"),
            docker_tls_ca_cert=get("DSJOBS_DOCKER_TLS_CA_CERT"),
            docker_tls_client_cert=get("DSJOBS_DOCKER_TLS_CLIENT_CERT"),
            docker_tls_client_key=get("DSJOBS_DOCKER_TLS_CLIENT_KEY"),
            docker_tls_verify=(get("DSJOBS_DOCKER_TLS_VERIFY") or "true").lower() not in ("0", "false", "no"),
            docker_allow_insecure=parse_switch(
                "DSJOBS_DOCKER_ALLOW_INSECURE", get("DSJOBS_DOCKER_ALLOW_INSECURE"), False
            ),
            docker_network=get("DSJOBS_DOCKER_NETWORK"),
            pids_limit=parse_pids_limit("DSJOBS_PIDS_LIMIT", get("DSJOBS_PIDS_LIMIT")),
            lazy_mounts=parse_switch("DSJOBS_LAZY_MOUNTS", get("DSJOBS_LAZY_MOUNTS"), False),
            s3fs_image=get("DSJOBS_S3FS_IMAGE"),
            lazy_mount_root=check_lazy_mount_root("DSJOBS_LAZY_MOUNT_ROOT", get("DSJOBS_LAZY_MOUNT_ROOT")),
            max_input_file_size=parse_size_setting(
                "DSJOBS_MAX_INPUT_FILE_SIZE", get("DSJOBS_MAX_INPUT_FILE_SIZE"), DEFAULT_MAX_INPUT_FILE_SIZE
            ),
            max_job_input_size=parse_size_setting(
                "DSJOBS_MAX_JOB_INPUT_SIZE", get("DSJOBS_MAX_JOB_INPUT_SIZE"), DEFAULT_MAX_JOB_INPUT_SIZE
            ),
            engine_name=get("DSJOBS_ENGINE_NAME"),
            engines=parse_engines(get("DSJOBS_ENGINES")),
            default_image=get("DSJOBS_DEFAULT_IMAGE") or DEFAULT_IMAGE,
            python_image_template=get("DSJOBS_PYTHON_IMAGE") or DEFAULT_PYTHON_IMAGE_TEMPLATE,
            console_url_template=get("DSJOBS_CONSOLE_URL"),
            image_pull_policy=get("DSJOBS_IMAGE_PULL_POLICY") or DEFAULT_IMAGE_PULL_POLICY,
            python_interpreter=get("DSJOBS_PYTHON_INTERPRETER"),
            home=default_home(e),
            hash_cache=(get("DSJOBS_HASH_CACHE") or "true").lower() not in ("0", "false", "no", "off"),
            auto_gc_interval=_seconds(get("DSJOBS_AUTO_GC_INTERVAL"), 3600.0),
            stats_interval=_seconds(get("DSJOBS_STATS_INTERVAL"), 10.0),
            cache_max_age_days=parse_cache_max_age("DSJOBS_CACHE_MAX_AGE_DAYS", get("DSJOBS_CACHE_MAX_AGE_DAYS")),
            cache_budget=parse_cache_budget("DSJOBS_CACHE_BUDGET", get("DSJOBS_CACHE_BUDGET")),
            working_storage_check=(get("DSJOBS_WORKING_STORAGE_CHECK") or "fail").lower(),
            allowed_secret_ids=split_patterns(get(ALLOWED_SECRET_IDS_SETTING)),
            secret_resolver=env_secret_resolver(e, split_patterns(get(ALLOWED_SECRET_IDS_SETTING))),
            lab_endpoint=get("DSJOBS_LAB_ENDPOINT"),
            lab_api_token=get("DSJOBS_LAB_API_TOKEN"),
            instance_catalog=_catalog(e),
            lab_code_roots=split_roots(get("DSJOBS_LAB_CODE_ROOTS")),
        )


def _catalog(env: Mapping[str, str]) -> InstanceCatalog:
    """The catalog ``DSJOBS_INSTANCE_TYPES`` gives; a bad file is a ``ValueError`` naming each problem."""
    try:
        return default_catalog(env)
    except ConfigError as exc:
        raise ValueError("; ".join(str(p) for p in exc.problems)) from None


def split_roots(value: object, name: str = "DSJOBS_LAB_CODE_ROOTS") -> tuple[str, ...]:
    """Absolute directories: a list, or one string separated by ``os.pathsep`` (``:``); a relative one is a
    ``ValueError`` naming the setting."""
    items = value if isinstance(value, (list, tuple)) else str(value or "").split(os.pathsep)
    roots = tuple(str(item).strip() for item in items if str(item).strip())
    for root in roots:
        if not os.path.isabs(root):
            raise ValueError(f"{name}: {root!r} is not an absolute directory")
    return roots


def check_lazy_mount_root(name: str, value: object) -> str:
    """The lazy mounts' root on the engine host: an absolute plain path (the engine parses it in a bind), ``None``
    or ``""`` for the default; anything else is a ``ValueError`` naming the setting."""
    text = "" if value is None else str(value).strip()
    if not text:
        return DEFAULT_LAZY_MOUNT_ROOT
    if not re.fullmatch(r"/[A-Za-z0-9._/-]*", text) or "/../" in text + "/":
        raise ValueError(f"{name} must be an absolute path of letters, digits and ._-/, got {_shown(text)}")
    return text.rstrip("/") or "/"


def check_pull_policy(policy: str) -> str:
    """``policy`` if it is one of ``IMAGE_PULL_POLICIES``, else ``ValueError`` naming the allowed ones."""
    if policy not in IMAGE_PULL_POLICIES:
        raise ValueError(f"image pull policy must be one of {', '.join(IMAGE_PULL_POLICIES)}, got {policy!r}")
    return policy
