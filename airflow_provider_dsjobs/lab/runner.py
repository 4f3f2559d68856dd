"""The script an ML Lab code job runs in its container: dependencies in the seed's order, then the code.

``environment.yml`` (a conda environment, created once in the env cache volume and put first on ``PATH``; an image
without ``mamba``/``micromamba``/``conda`` fails with a clear message) → ``setup.sh`` (``/bin/bash``; its effects
live in this container only) → ``requirements.txt`` (a venv in the env cache, ``pyenv/cached_env.py``) → the code:
``python DIR`` (its ``__main__.py``) or ``python SCRIPT``, in the code directory. A failing step writes its reason
to the failure marker and exits ``EXIT_ENV_FAILED``, so the job ends ERROR with that reason (``jobs/stage_out.py``).
"""

from __future__ import annotations

import shlex

from airflow_provider_dsjobs.pyenv.container_build import EXIT_ENV_FAILED

CONDA_READY = ".complete"


def runner_script(
    *,
    workdir: str,
    entry: str | None,
    image: str,
    failed_marker: str,
    conda_env: str | None,
    setup_sh: bool,
    requirements_setup: str | None,
) -> str:
    """The shell script; ``entry`` None installs the dependencies only (``requirements_only``)."""
    q = shlex.quote
    marker_dir = failed_marker.rsplit("/", 1)[0]
    lines = [
        f"cd {q(workdir)} || exit 1",
        "dsjobs_fail() { "
        f"mkdir -p {q(marker_dir)}; printf '%s\\n' \"$1\" > {q(failed_marker)}; "
        f"printf 'dsjobs-lab: %s\\n' \"$1\" >&2; exit {EXIT_ENV_FAILED}; }}",
    ]
    if conda_env is not None:
        no_conda = f"environment.yml needs conda or mamba, and image {image} has neither (use an image with conda)"
        ready = f"{conda_env}/{CONDA_READY}"
        lines += [
            "dsjobs_conda=$(command -v mamba || command -v micromamba || command -v conda) || "
            f"dsjobs_fail {q(no_conda)}",
            f"if [ -f {q(ready)} ]; then echo 'dsjobs-lab: conda environment cache hit'; else",
            f"  rm -rf {q(conda_env)}; echo 'dsjobs-lab: creating the conda environment from environment.yml'",
            f'  "$dsjobs_conda" env create -q -p {q(conda_env)} -f environment.yml || '
            'dsjobs_fail "environment.yml: $dsjobs_conda env create failed (exit code $?)"',
            f"  touch {q(ready)}",
            "fi",
            f'export CONDA_PREFIX={q(conda_env)} PATH={q(conda_env)}/bin:"$PATH"',
        ]
    if setup_sh:
        lines += [
            "[ -x /bin/bash ] || dsjobs_fail " + q(f"setup.sh needs /bin/bash, and image {image} has none"),
            "echo 'dsjobs-lab: running setup.sh'",
            '/bin/bash setup.sh || dsjobs_fail "setup.sh failed (exit code $?)"',
        ]
    if requirements_setup is not None:
        lines += ["echo 'dsjobs-lab: installing requirements.txt'", requirements_setup]
    if entry is None:
        lines.append("echo 'dsjobs-lab: dependencies are installed; the code does not run (requirements only)'")
        return "\n".join(lines)
    lines += [
        "dsjobs_py=$(command -v python || command -v python3) || "
        + f"dsjobs_fail {q(f'image {image} has no python to run the code with')}",
        f'exec "$dsjobs_py" {q(entry)}',
    ]
    return "\n".join(lines)
