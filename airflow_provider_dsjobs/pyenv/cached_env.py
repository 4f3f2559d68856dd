"""A cached environment for requirements that are not analysed: ML Lab code's ``requirements.txt``.

The same builder, build step and cache as ``env.python`` (``pyenv/build_step.py``, ``pyenv/container_build.py``):
the venv lives in the project's Docker volume ``dsjobs-pyenv-<project>-<digest>``, keyed by the project, image,
requirements and pip options (plus ``extra_key``, e.g. the conda environment it is built on), so
``dsjobs env ls|clear`` manage it too. The build step builds it with the image's ``python`` (whatever its
version); the job only activates it, read-only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from airflow_provider_dsjobs.config.model import PipOptions
from airflow_provider_dsjobs.pyenv.build_step import activate_venv, build_command, env_volume_labels, env_volume_name
from airflow_provider_dsjobs.pyenv.container_build import EXIT_ENV_FAILED
from airflow_provider_dsjobs.pyenv.plan import (
    BUILD_FORMAT,
    DEFAULT_VOLUME_MOUNT,
    builder_source,
    env_hash_for,
    pip_spec,
)


@dataclass(frozen=True)
class CachedEnv:
    """Where the environment lives, the build step's line that builds it, and the job's line that activates it."""

    env_hash: str
    volume_name: str
    volume_mount: str
    volume_labels: dict[str, str]
    build_command: str
    activate_command: str
    #: written last by the build: the environment is complete
    ready_path: str
    failed_exit_code: int
    container_files: tuple[tuple[str, bytes], ...] = field(repr=False)


def volume_for(key: str, image: str, project: str) -> tuple[str, dict[str, str]]:
    """The env volume name and labels of environment ``key`` for ``project``."""
    return env_volume_name(project, key), env_volume_labels(project, key, image, "")


def key_for(image: str, extra_key: str) -> str:
    """An environment key without requirements (a conda environment alone)."""
    return hashlib.sha256(f"{image}{extra_key}".encode()).hexdigest()


def cached_env(
    image: str,
    requirements: Sequence[str],
    pip: PipOptions,
    *,
    project: str,
    support_dir: str,
    failed_marker: str,
    extra_key: str = "",
    volume_mount: str = DEFAULT_VOLUME_MOUNT,
) -> CachedEnv:
    """Plan a venv with ``requirements``, built by the pyenv builder in the build step."""
    env_hash = env_hash_for(f"{image}{extra_key}", "", requirements, pip)
    mount = volume_mount.rstrip("/")
    builder_path, spec_path = f"{support_dir}/pyenv_build.py", f"{support_dir}/pyenv.json"
    venv = f"{mount}/{env_hash}/venv"
    spec = {
        "format": BUILD_FORMAT,
        "hash": env_hash,
        "version": "",
        "version_strict": False,
        "image": image,
        "env_root": mount,
        "requirements": list(requirements),
        "pip": pip_spec(pip),
        "failed_marker": failed_marker,
    }
    name, labels = volume_for(env_hash, image, project)
    return CachedEnv(
        env_hash=env_hash,
        volume_name=name,
        volume_mount=mount,
        volume_labels=labels,
        build_command=build_command("", builder_path, spec_path, failed_marker),
        activate_command=activate_venv(venv),
        ready_path=f"{mount}/{env_hash}/.complete",
        failed_exit_code=EXIT_ENV_FAILED,
        container_files=(
            (builder_path, builder_source()),
            (spec_path, json.dumps(spec, indent=1, sort_keys=True).encode("utf-8")),
        ),
    )
