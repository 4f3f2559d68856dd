"""``/data`` of ML Lab jobs: one Docker volume per project and job name, so a run sees what the last one wrote.

The volume lives on the Docker engine that runs the job (``/var/lib/docker/volumes/<name>/_data`` on a Linux
engine's host), named ``dsjobs-lab-data-<name>-<hash>`` and labelled ``dsjobs.project`` / ``dsjobs.lab-data``
(the job name) / ``dsjobs.cache=lab-data`` (``dsjobs gc`` removes it once unused for long: ``jobs/cache_gc.py``).
A job without a name gets no volume: its ``/data`` is the container's own directory, gone with
the container (an image that declares ``VOLUME /data`` gets Docker's anonymous volume, which Docker keeps).
On a remote engine the data stays on that engine: another engine starts with an empty ``/data``.
``dsjobs lab-data ls`` lists the volumes of a project, ``dsjobs lab-data clear NAME`` (or ``--all``) removes them.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

from airflow_provider_dsjobs.runtime.labels import LABEL_PROJECT
from airflow_provider_dsjobs.runtime.volumes import CACHE_LAB_DATA, cache_labels

if TYPE_CHECKING:
    from airflow_provider_dsjobs.runtime.containers import Runtime

DATA_DIR = "/data"
LABEL_LAB_DATA = "dsjobs.lab-data"
VOLUME_PREFIX = "dsjobs-lab-data-"


def data_volume_name(project: str, name: str) -> str:
    """A valid, unique Docker volume name for ``(project, name)``."""
    digest = hashlib.sha256(f"{project}\0{name}".encode()).hexdigest()[:12]
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.")[:40]
    return f"{VOLUME_PREFIX}{safe + '-' if safe else ''}{digest}"


def data_labels(project: str, name: str) -> dict[str, str]:
    """The labels that find a job's ``/data`` volume (volumes of earlier versions have only these)."""
    return {LABEL_PROJECT: project, LABEL_LAB_DATA: name}


def data_volume_labels(project: str, name: str) -> dict[str, str]:
    """The labels a new ``/data`` volume is created with: ``data_labels`` and ``dsjobs.cache=lab-data``."""
    return {**data_labels(project, name), **cache_labels(CACHE_LAB_DATA)}


def list_data_volumes(runtime: Runtime, project: str) -> dict[str, str]:
    """Job name → volume name for every ``/data`` volume of ``project`` on the engine."""
    from airflow_provider_dsjobs.runtime.errors import RuntimeFailure

    try:
        result = runtime.api.volumes(filters={"label": [f"{LABEL_PROJECT}={project}", LABEL_LAB_DATA]})
    except Exception as exc:  # the engine's error, as one line
        raise RuntimeFailure(f"cannot list volumes: {exc}") from None
    found: dict[str, str] = {}
    for volume in result.get("Volumes") or []:
        labels = volume.get("Labels") or {}
        found[str(labels.get(LABEL_LAB_DATA, ""))] = str(volume["Name"])
    return dict(sorted(found.items()))


def clear_data_volume(runtime: Runtime, project: str, name: str) -> bool:
    """Remove the ``/data`` volume of job ``name``; False when there is none. A running job keeps it busy."""
    volume = data_volume_name(project, name)
    if volume not in runtime.list_volumes(data_labels(project, name)):
        return False
    runtime.remove_volume(volume)
    return True
