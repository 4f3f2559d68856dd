"""Named volumes on the engine as caches: what kind each is, how big, when made, and whether a container holds it.

Every volume dsjobs creates carries ``dsjobs.managed=1`` (``Runtime.create_volume`` adds it), ``dsjobs.project``
and ``dsjobs.cache=<kind>``: ``pyenv`` (a Python environment), ``dataset`` (a dataset materialized on the engine),
``s3-mount`` (an S3 mount's local copy), ``lab-data`` (ML Lab ``/data``) or ``project-disk``. Volumes made before
the ``dsjobs.cache`` label existed are recognised by the labels and names they had (``cache_kind``).

``volume_usage`` reads the engine once for the lot: its disk usage report (``docker system df``: labels, creation
time, size of every volume) and its containers, running or not (a volume any of them mounts is in use: the engine
refuses to remove it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: The label naming a volume's cache kind.
CACHE_LABEL = "dsjobs.cache"
CACHE_PYENV = "pyenv"
CACHE_DATASET = "dataset"
CACHE_S3_MOUNT = "s3-mount"
CACHE_LAB_DATA = "lab-data"
CACHE_PROJECT_DISK = "project-disk"
CACHE_KINDS = (CACHE_PYENV, CACHE_DATASET, CACHE_S3_MOUNT, CACHE_LAB_DATA, CACHE_PROJECT_DISK)
#: A ``dsjobs.cache`` value a later version may add (any such kind is a cache too: ``gc`` needs no code for it).
_KIND_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
#: Labels and name prefixes of volumes made before ``dsjobs.cache`` existed, and the kind each means.
_LEGACY = (
    ("dsjobs.pyenv", "dsjobs-pyenv-", CACHE_PYENV),
    ("dsjobs.lab-data", "dsjobs-lab-data-", CACHE_LAB_DATA),
    ("dsjobs.project-disk", "dsjobs-project-", CACHE_PROJECT_DISK),
)


def cache_labels(kind: str) -> dict[str, str]:
    """The label a new volume of ``kind`` carries (with ``dsjobs.project``; the runtime adds ``dsjobs.managed``)."""
    return {CACHE_LABEL: kind}


def cache_kind(name: str, labels: Mapping[str, str]) -> str | None:
    """The cache kind of a volume: its ``dsjobs.cache`` label, else what its older labels or name say; ``None`` when
    it is no cache dsjobs knows."""
    kind = labels.get(CACHE_LABEL)
    if kind is not None:
        return kind if _KIND_RE.fullmatch(kind) else None
    for label, prefix, legacy in _LEGACY:
        if label in labels or name.startswith(prefix):
            return legacy
    return None


@dataclass(frozen=True)
class VolumeUsage:
    """One volume as the engine reports it."""

    name: str
    labels: Mapping[str, str]
    #: When the engine created it (``None`` when it does not say).
    created_at: datetime | None
    #: Bytes it holds (``None`` when the engine does not measure it, e.g. another volume driver).
    size: int | None
    #: Names of the containers (running or not) that mount it.
    used_by: tuple[str, ...] = field(default_factory=tuple)

    @property
    def in_use(self) -> bool:
        return bool(self.used_by)


def _matches(labels: Mapping[str, str], wanted: Mapping[str, str | None]) -> bool:
    return all(k in labels and (v is None or labels[k] == v) for k, v in wanted.items())


def _users(containers: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Volume name → names of the containers that mount it."""
    users: dict[str, list[str]] = {}
    for row in containers:
        name = str((row.get("Names") or [str(row.get("Id", ""))[:12]])[0]).lstrip("/")
        for mount in row.get("Mounts") or ():
            if mount.get("Type") == "volume" and mount.get("Name"):
                users.setdefault(str(mount["Name"]), []).append(name)
    return users


def volume_usage(
    api: Any, labels: Mapping[str, str | None], parse_time: Callable[[str | None], datetime | None]
) -> list[VolumeUsage]:
    """The volumes carrying all of ``labels`` (``None``: any value), by name, read with the docker SDK's low-level
    client ``api`` (``parse_time`` turns the engine's time text into a UTC datetime or ``None``). Raises the SDK's
    errors (the caller words them)."""
    users = _users(api.containers(all=True))
    found = []
    for volume in api.df().get("Volumes") or ():
        volume_labels = {str(k): str(v) for k, v in (volume.get("Labels") or {}).items()}
        if not _matches(volume_labels, labels):
            continue
        name = str(volume.get("Name", ""))
        size = (volume.get("UsageData") or {}).get("Size")
        found.append(
            VolumeUsage(
                name=name,
                labels=volume_labels,
                created_at=parse_time(volume.get("CreatedAt")),
                size=size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None,
                used_by=tuple(sorted(users.get(name, ()))),
            )
        )
    return sorted(found, key=lambda v: v.name)
