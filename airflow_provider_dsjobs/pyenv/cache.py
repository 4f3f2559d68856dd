"""The environment cache: one Docker volume per Python environment, on the engine that runs the jobs.

A volume belongs to one project: it is named ``dsjobs-pyenv-<project>-<digest>`` and labelled ``dsjobs.pyenv=1``,
``dsjobs.pyenv.version``, ``dsjobs.pyenv.image``, ``dsjobs.pyenv.hash`` and ``dsjobs.project``
(``pyenv/build_step.py``). Volumes of earlier versions (``dsjobs-pyenv-<hash>``, no project) are listed with an
empty project and no longer used by jobs. Volumes live on the engine, so the cache works the same
with a remote engine (no shared filesystem with the submitting machine). The engine is the one
``runtime.engine.connect_engine`` reaches, as for jobs (``dsjobs env`` uses it too).
"""

from __future__ import annotations

from dataclasses import dataclass

import docker.errors

from airflow_provider_dsjobs.pyenv.build_step import LABEL_HASH, LABEL_IMAGE, LABEL_PROJECT, LABEL_PYENV, LABEL_VERSION
from airflow_provider_dsjobs.pyenv.plan import PythonEnvPlan
from airflow_provider_dsjobs.runtime.engine import DockerEngine


@dataclass(frozen=True)
class EnvVolume:
    """One cached environment."""

    name: str
    env_hash: str
    version: str
    image: str
    created_at: str
    #: bytes used, when asked for (``None`` otherwise or when the engine does not say)
    size_bytes: int | None = None
    #: the project whose jobs use it ("" for a volume of an earlier version, which no job uses any more)
    project: str = ""

    def to_dict(self) -> dict[str, str | int | None]:
        return {
            "name": self.name,
            "hash": self.env_hash,
            "version": self.version,
            "image": self.image,
            "created_at": self.created_at,
            "size_bytes": self.size_bytes,
            "project": self.project,
        }


@dataclass
class ClearReport:
    removed: list[str]
    #: (volume name, reason) of volumes that could not be removed, e.g. in use by a running job
    kept: list[tuple[str, str]]


def ensure_env_volume(plan: PythonEnvPlan, engine: DockerEngine) -> str:
    """Create the plan's volume with its labels unless it exists; returns its name. Call it before creating
    the job container (a volume Docker creates implicitly would have no labels, and ``env ls`` would miss it)."""
    api = engine.api
    try:
        api.inspect_volume(plan.volume_name)
    except docker.errors.NotFound:
        try:
            api.create_volume(name=plan.volume_name, labels=dict(plan.volume_labels))
        except docker.errors.APIError:  # created concurrently by another job: fine if it is there now
            api.inspect_volume(plan.volume_name)
    return plan.volume_name


def _volume_sizes(engine: DockerEngine) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for volume in engine.api.df().get("Volumes") or []:
        size = (volume.get("UsageData") or {}).get("Size")
        if isinstance(size, int) and size >= 0:
            sizes[volume.get("Name", "")] = size
    return sizes


def list_env_volumes(engine: DockerEngine, *, with_size: bool = False) -> list[EnvVolume]:
    """Every environment volume on the engine, newest first. ``with_size`` asks the engine for disk usage
    (``docker system df``: it measures every volume, so it can take a while)."""
    volumes = engine.api.volumes(filters={"label": f"{LABEL_PYENV}=1"}).get("Volumes") or []
    sizes = _volume_sizes(engine) if with_size else {}
    found: list[EnvVolume] = []
    for volume in volumes:
        labels = volume.get("Labels") or {}
        name = str(volume.get("Name", ""))
        found.append(
            EnvVolume(
                name=name,
                env_hash=labels.get(LABEL_HASH, ""),
                version=labels.get(LABEL_VERSION, ""),
                image=labels.get(LABEL_IMAGE, ""),
                created_at=volume.get("CreatedAt", ""),
                size_bytes=sizes.get(name),
                project=labels.get(LABEL_PROJECT, ""),
            )
        )
    return sorted(found, key=lambda v: v.created_at, reverse=True)


def clear_env_volumes(engine: DockerEngine, *, env_hash: str | None = None, clear_all: bool = False) -> ClearReport:
    """Remove environment volumes: those whose hash starts with ``env_hash``, or all with ``clear_all``.
    A volume in use by a container is kept and reported."""
    if not env_hash and not clear_all:
        raise ValueError("name an environment hash or ask for all")
    report = ClearReport([], [])
    for env in list_env_volumes(engine):
        if not clear_all and not (env_hash and env.env_hash.startswith(env_hash)):
            continue
        try:
            engine.api.remove_volume(env.name)
            report.removed.append(env.name)
        except docker.errors.NotFound:
            continue
        except docker.errors.APIError as exc:
            reason = "in use by a container" if exc.status_code == 409 else str(exc.explanation or exc)
            report.kept.append((env.name, reason))
    return report
