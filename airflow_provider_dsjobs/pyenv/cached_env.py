"""A cached environment for requirements that are not analysed: ML Lab code's ``requirements.txt``.

The same builder, volume naming and cache as ``env.python`` (``pyenv/plan.py``, ``pyenv/container_build.py``):
the venv lives in the Docker volume ``dsjobs-pyenv-<hash>`` keyed by image, requirements and pip options (plus
``extra_key``, e.g. the conda environment it is built on), so ``dsjobs env ls|clear`` manage it too. The image's
``python`` builds it, whatever its version.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from airflow_provider_dsjobs.config.model import PipOptions
from airflow_provider_dsjobs.pyenv.container_build import EXIT_ENV_FAILED
from airflow_provider_dsjobs.pyenv.plan import (
    BUILD_FORMAT,
    DEFAULT_VOLUME_MOUNT,
    LABEL_HASH,
    LABEL_IMAGE,
    LABEL_PYENV,
    LABEL_VERSION,
    VOLUME_PREFIX,
    _setup_command,
    builder_source,
    env_hash_for,
    pip_spec,
)


@dataclass(frozen=True)
class CachedEnv:
    """Where the environment lives and the shell lines that build (or reuse) and activate it."""

    env_hash: str
    volume_name: str
    volume_mount: str
    volume_labels: dict[str, str]
    setup_command: str
    failed_marker: str
    failed_exit_code: int
    container_files: tuple[tuple[str, bytes], ...] = field(repr=False)


def volume_for(key: str, image: str, volume_mount: str = DEFAULT_VOLUME_MOUNT) -> tuple[str, dict[str, str]]:
    """The env volume name and labels for an environment hash ``key``."""
    return f"{VOLUME_PREFIX}{key[:16]}", {LABEL_PYENV: "1", LABEL_VERSION: "", LABEL_IMAGE: image, LABEL_HASH: key}


def cached_env(
    image: str,
    requirements: Sequence[str],
    pip: PipOptions,
    *,
    support_dir: str,
    failed_marker: str,
    extra_key: str = "",
    volume_mount: str = DEFAULT_VOLUME_MOUNT,
) -> CachedEnv:
    """Plan a venv with ``requirements`` built in the container by the pyenv builder."""
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
    name, labels = volume_for(env_hash, image, mount)
    return CachedEnv(
        env_hash=env_hash,
        volume_name=name,
        volume_mount=mount,
        volume_labels=labels,
        setup_command=_setup_command("", builder_path, spec_path, failed_marker, venv),
        failed_marker=failed_marker,
        failed_exit_code=EXIT_ENV_FAILED,
        container_files=(
            (builder_path, builder_source()),
            (spec_path, json.dumps(spec, indent=1, sort_keys=True).encode("utf-8")),
        ),
    )
