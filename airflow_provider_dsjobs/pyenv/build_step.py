"""How a cached environment is built and used: a build step writes it, jobs only read it.

An environment lives in a Docker volume of its own, keyed by the **project** and the environment's hash
(image, Python version, requirements, pip options): ``dsjobs-pyenv-<project>-<digest>``, labelled with the
project (``dsjobs.project``), the hash and ``dsjobs.cache=pyenv`` (``runtime/volumes.py``). Jobs of another
project never mount it.

* The **build step** (:func:`build_command`) runs in a short-lived helper container (label
  ``dsjobs.helper=pyenv-build``, from the job's image) with the volume mounted read-write; the builder
  (``container_build.py``) writes ``.complete`` last, so a half-built environment is never taken as ready.
  The launcher runs it only when ``ready_path`` is missing (``jobs/env_build.py``).
* The **job** mounts the volume **read-only**, and :func:`use_command` runs before its ``cmd``: it prints the
  build step's output (when there was a build), refuses an environment without ``ready_path`` (the build step's
  failure, delivered as ``failed_marker``, is the job's error) and activates it. Nothing a job runs can change
  an environment another job will use: ``pip install`` or a file written into ``sys.prefix`` fails with
  "Read-only file system".
"""

from __future__ import annotations

import hashlib
import re
import shlex

from airflow_provider_dsjobs.pyenv.container_build import EXIT_ENV_FAILED
from airflow_provider_dsjobs.runtime.volumes import CACHE_PYENV, cache_labels

VOLUME_PREFIX = "dsjobs-pyenv-"
LABEL_PYENV = "dsjobs.pyenv"
LABEL_VERSION = "dsjobs.pyenv.version"
LABEL_IMAGE = "dsjobs.pyenv.image"
LABEL_HASH = "dsjobs.pyenv.hash"
#: The project the environment belongs to (the same label a job's container and the project disk carry).
LABEL_PROJECT = "dsjobs.project"
#: ``dsjobs.helper`` value of the build step's container.
BUILD_HELPER = "pyenv-build"
#: Characters of the project kept in a volume name (Docker allows ``[A-Za-z0-9][A-Za-z0-9_.-]*``).
_NAME_PROJECT_CHARS = 40


def env_volume_name(project: str, env_hash: str) -> str:
    """``dsjobs-pyenv-<project, made name-safe>-<digest of project and hash>``: at most 70 characters; two
    projects whose names read the same once made safe still get different volumes (the digest covers the name
    as given)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "-", project)[:_NAME_PROJECT_CHARS].strip("-._") or "project"
    digest = hashlib.sha256(f"{project}\0{env_hash}".encode()).hexdigest()[:16]
    return f"{VOLUME_PREFIX}{safe}-{digest}"


def env_volume_labels(project: str, env_hash: str, image: str, version: str) -> dict[str, str]:
    return {
        LABEL_PYENV: "1",
        LABEL_VERSION: version,
        LABEL_IMAGE: image,
        LABEL_HASH: env_hash,
        LABEL_PROJECT: project,
        **cache_labels(CACHE_PYENV),
    }


def build_command(version: str, builder: str, spec: str, marker: str) -> str:
    """The build step's shell line: the image's ``python<version>`` (else ``python3``) runs the builder, which
    writes why it failed to ``marker`` (named in the spec)."""
    q = shlex.quote
    no_python = f"dsjobs-pyenv: the image has no python{version} or python3 to build the environment with"
    marker_dir = marker.rsplit("/", 1)[0] or "/"
    return (
        f"dsjobs_py=$(command -v python{version} || command -v python3) || "
        f"{{ mkdir -p {q(marker_dir)}; echo {q(no_python)} | tee {q(marker)} >&2; exit {EXIT_ENV_FAILED}; }}; "
        f'"$dsjobs_py" {q(builder)} {q(spec)} || exit $?'
    )


def use_command(*, ready: str, failed_marker: str, build_log: str, hit_message: str) -> str:
    """The job's shell lines before ``cmd``: show the build step's log, fail (``EXIT_ENV_FAILED``, the reason in
    ``failed_marker``) unless ``ready`` exists, say ``hit_message`` when there was no build."""
    q = shlex.quote
    marker_dir = failed_marker.rsplit("/", 1)[0] or "/"
    missing = f"dsjobs-pyenv: the Python environment could not be built: {ready} is missing (no finished build)"
    return (
        f"if [ -f {q(build_log)} ]; then cat {q(build_log)}; else echo {q(hit_message)}; fi; "
        f"[ -f {q(ready)} ] || {{ [ -f {q(failed_marker)} ] || {{ mkdir -p {q(marker_dir)}; "
        f"echo {q(missing)} > {q(failed_marker)}; }}; cat {q(failed_marker)} >&2; exit {EXIT_ENV_FAILED}; }}"
    )


def activate_venv(venv: str) -> str:
    return f'export VIRTUAL_ENV={shlex.quote(venv)}; export PATH="$VIRTUAL_ENV/bin:$PATH"; unset PYTHONHOME'
