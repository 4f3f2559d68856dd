"""The environment cache: one Docker volume per Python environment, on the engine that runs the jobs.

A volume is named ``dsjobs-pyenv-<hash[:16]>`` and labelled ``dsjobs.pyenv=1``, ``dsjobs.pyenv.version``,
``dsjobs.pyenv.image`` and ``dsjobs.pyenv.hash``. Volumes live on the engine, so the cache works the same
with a remote engine (no shared filesystem with the submitting machine).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import docker
import docker.errors

from airflow_provider_dsjobs.pyenv.plan import LABEL_HASH, LABEL_IMAGE, LABEL_PYENV, LABEL_VERSION, PythonEnvPlan


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

    def to_dict(self) -> dict[str, str | int | None]:
        return {
            "name": self.name,
            "hash": self.env_hash,
            "version": self.version,
            "image": self.image,
            "created_at": self.created_at,
            "size_bytes": self.size_bytes,
        }


@dataclass
class ClearReport:
    removed: list[str]
    #: (volume name, reason) of volumes that could not be removed, e.g. in use by a running job
    kept: list[tuple[str, str]]


def _client(client: Any | None) -> Any:
    return client if client is not None else docker.from_env()


def ensure_env_volume(plan: PythonEnvPlan, client: Any | None = None) -> str:
    """Create the plan's volume with its labels unless it exists; returns its name. Call it before creating
    the job container (a volume Docker creates implicitly would have no labels, and ``env ls`` would miss it)."""
    docker_client = _client(client)
    try:
        docker_client.volumes.get(plan.volume_name)
    except docker.errors.NotFound:
        try:
            docker_client.volumes.create(name=plan.volume_name, labels=dict(plan.volume_labels))
        except docker.errors.APIError:  # created concurrently by another job: fine if it is there now
            docker_client.volumes.get(plan.volume_name)
    return plan.volume_name


def _volume_sizes(docker_client: Any) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for volume in docker_client.df().get("Volumes") or []:
        size = (volume.get("UsageData") or {}).get("Size")
        if isinstance(size, int) and size >= 0:
            sizes[volume.get("Name", "")] = size
    return sizes


def list_env_volumes(client: Any | None = None, *, with_size: bool = False) -> list[EnvVolume]:
    """Every environment volume on the engine, newest first. ``with_size`` asks the engine for disk usage
    (``docker system df``: it measures every volume, so it can take a while)."""
    docker_client = _client(client)
    volumes = docker_client.volumes.list(filters={"label": f"{LABEL_PYENV}=1"})
    sizes = _volume_sizes(docker_client) if with_size else {}
    found: list[EnvVolume] = []
    for volume in volumes:
        attrs = volume.attrs or {}
        labels = attrs.get("Labels") or {}
        found.append(
            EnvVolume(
                name=volume.name,
                env_hash=labels.get(LABEL_HASH, ""),
                version=labels.get(LABEL_VERSION, ""),
                image=labels.get(LABEL_IMAGE, ""),
                created_at=attrs.get("CreatedAt", ""),
                size_bytes=sizes.get(volume.name),
            )
        )
    return sorted(found, key=lambda v: v.created_at, reverse=True)


def clear_env_volumes(
    client: Any | None = None, *, env_hash: str | None = None, clear_all: bool = False
) -> ClearReport:
    """Remove environment volumes: those whose hash starts with ``env_hash``, or all with ``clear_all``.
    A volume in use by a container is kept and reported."""
    if not env_hash and not clear_all:
        raise ValueError("name an environment hash or ask for all")
    docker_client = _client(client)
    report = ClearReport([], [])
    for env in list_env_volumes(docker_client):
        if not clear_all and not (env_hash and env.env_hash.startswith(env_hash)):
            continue
        try:
            docker_client.volumes.get(env.name).remove()
            report.removed.append(env.name)
        except docker.errors.NotFound:
            continue
        except docker.errors.APIError as exc:
            reason = "in use by a container" if exc.status_code == 409 else str(exc.explanation or exc)
            report.kept.append((env.name, reason))
    return report
