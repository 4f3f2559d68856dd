"""The scripts of an ML Lab code job: the build step's, which builds the cached dependencies, and the job's.

The **build step** (a helper container with the project's env volume read-write, ``jobs/env_build.py``; it runs
only when the environment is not complete yet) creates ``environment.yml``'s conda environment (an image without
``mamba``/``micromamba``/``conda`` fails with a clear message) and then the ``requirements.txt`` venv on top of
it (``pyenv/cached_env.py``), in the code directory (so ``./wheels/x.whl`` lines work).

The **job** (the volume read-only) shows the build's output, refuses an unfinished environment, puts the conda
environment first on ``PATH``, runs ``setup.sh`` (``/bin/bash``; its effects live in this container only, and
the requirements build does not see them), activates the venv and runs the code: ``python DIR`` (its
``__main__.py``) or ``python SCRIPT``, in the code directory. A failing step writes its reason to the failure
marker and exits ``EXIT_ENV_FAILED``, so the job ends ERROR with that reason (``jobs/stage_out.py``).
"""

from __future__ import annotations

import shlex

from airflow_provider_dsjobs.pyenv.build_step import use_command
from airflow_provider_dsjobs.pyenv.container_build import EXIT_ENV_FAILED

CONDA_READY = ".complete"
CONDA_HIT = "dsjobs-lab: conda environment cache hit"


def _prologue(workdir: str, failed_marker: str) -> list[str]:
    q = shlex.quote
    marker_dir = failed_marker.rsplit("/", 1)[0]
    return [
        f"cd {q(workdir)} || exit 1",
        "dsjobs_fail() { "
        f"mkdir -p {q(marker_dir)}; printf '%s\\n' \"$1\" > {q(failed_marker)}; "
        f"printf 'dsjobs-lab: %s\\n' \"$1\" >&2; exit {EXIT_ENV_FAILED}; }}",
    ]


def _conda_path(conda_env: str) -> str:
    q = shlex.quote
    return f'export CONDA_PREFIX={q(conda_env)} PATH={q(conda_env)}/bin:"$PATH"'


def build_script(
    *, workdir: str, image: str, failed_marker: str, conda_env: str | None, requirements_build: str | None
) -> str:
    """The build step's script: the conda environment, then the requirements venv (each unless complete)."""
    q = shlex.quote
    lines = _prologue(workdir, failed_marker)
    if conda_env is not None:
        no_conda = f"environment.yml needs conda or mamba, and image {image} has neither (use an image with conda)"
        ready = f"{conda_env}/{CONDA_READY}"
        lines += [
            "dsjobs_conda=$(command -v mamba || command -v micromamba || command -v conda) || "
            f"dsjobs_fail {q(no_conda)}",
            f"if [ -f {q(ready)} ]; then echo {q(CONDA_HIT)}; else",
            f"  rm -rf {q(conda_env)}; echo 'dsjobs-lab: creating the conda environment from environment.yml'",
            f'  "$dsjobs_conda" env create -q -p {q(conda_env)} -f environment.yml || '
            'dsjobs_fail "environment.yml: $dsjobs_conda env create failed (exit code $?)"',
            f"  touch {q(ready)}",
            "fi",
            _conda_path(conda_env),
        ]
    if requirements_build is not None:
        lines += ["echo 'dsjobs-lab: installing requirements.txt'", requirements_build]
    return "\n".join(lines)


def runner_script(
    *,
    workdir: str,
    entry: str | None,
    image: str,
    failed_marker: str,
    conda_env: str | None,
    setup_sh: bool,
    requirements_activate: str | None,
    ready: str | None = None,
    build_log: str = "",
    hit_message: str = "",
) -> str:
    """The job's script; ``entry`` None installs the dependencies only (``requirements_only``). ``ready`` is the
    file the build step writes last (None: nothing is cached)."""
    q = shlex.quote
    lines = _prologue(workdir, failed_marker)
    if ready is not None:
        use = use_command(ready=ready, failed_marker=failed_marker, build_log=build_log, hit_message=hit_message)
        lines.append(use)
    if conda_env is not None:
        lines.append(_conda_path(conda_env))
    if setup_sh:
        lines += [
            "[ -x /bin/bash ] || dsjobs_fail " + q(f"setup.sh needs /bin/bash, and image {image} has none"),
            "echo 'dsjobs-lab: running setup.sh'",
            '/bin/bash setup.sh || dsjobs_fail "setup.sh failed (exit code $?)"',
        ]
    if requirements_activate is not None:
        lines.append(requirements_activate)
    if entry is None:
        lines.append("echo 'dsjobs-lab: dependencies are installed; the code does not run (requirements only)'")
        return "\n".join(lines)
    lines += [
        "dsjobs_py=$(command -v python || command -v python3) || "
        + f"dsjobs_fail {q(f'image {image} has no python to run the code with')}",
        f'exec "$dsjobs_py" {q(entry)}',
    ]
    return "\n".join(lines)


def image_code_script(*, path: str, image: str, failed_marker: str, code_only: bool) -> str:
    """The job's script for code already in the image at ``path``: its directory's dependency files run in this
    container (not cached: bake them into the image and use ``code_only``, as the seed's custom-image flow does),
    then ``python PATH``."""
    q = shlex.quote
    lines = _prologue("/", failed_marker)
    lines += [
        f"[ -e {q(path)} ] || dsjobs_fail {q(f'EXECUTE_CODE {path} is not in image {image}')}",
        f'if [ -d {q(path)} ]; then cd {q(path)}; else cd "$(dirname {q(path)})"; fi || exit 1',
    ]
    if not code_only:
        no_conda = f"environment.yml needs conda or mamba, and image {image} has neither (or use code_only)"
        lines += [
            "if [ -f environment.yml ]; then",
            "  dsjobs_conda=$(command -v mamba || command -v micromamba || command -v conda) || "
            f"dsjobs_fail {q(no_conda)}",
            "  echo 'dsjobs-lab: updating the conda environment of the image from environment.yml'",
            '  "$dsjobs_conda" env update -q -f environment.yml || dsjobs_fail "environment.yml: update failed"',
            "fi",
            "if [ -f setup.sh ]; then",
            "  echo 'dsjobs-lab: running setup.sh'",
            '  /bin/bash setup.sh || dsjobs_fail "setup.sh failed (exit code $?)"',
            "fi",
            "if [ -f requirements.txt ]; then",
            "  echo 'dsjobs-lab: installing requirements.txt into this container'",
            '  python -m pip install -q -r requirements.txt || dsjobs_fail "requirements.txt: pip failed (exit $?)"',
            "fi",
        ]
    lines += [
        "dsjobs_py=$(command -v python || command -v python3) || "
        + f"dsjobs_fail {q(f'image {image} has no python to run the code with')}",
        f'exec "$dsjobs_py" {q(path)}',
    ]
    return "\n".join(lines)
