"""The in-container builder against a real Docker engine and a local package index (host networking)."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dsjobs.config.model import DockerImage, PipOptions, PythonEnv
from airflow_provider_dsjobs.pyenv.cache import ensure_env_volume
from airflow_provider_dsjobs.pyenv.container_build import EXIT_ENV_FAILED
from airflow_provider_dsjobs.pyenv.plan import PythonEnvPlan, plan_python_env
from airflow_provider_dsjobs.runtime.engine import DockerEngine
from tests.pyenv.helpers import ContainerRun, make_config, run_in_container, write

pytestmark = pytest.mark.docker

TIMED = 's=$(date +%s%N); {setup}; rc=$?; echo "setup_ms=$(( ($(date +%s%N) - s) / 1000000 ))"; [ $rc -eq 0 ] && {cmd}'


def _plan(base: Path, site: Path, image: str, index_url: str, python: PythonEnv | None = None) -> PythonEnvPlan:
    python = python or PythonEnv(type="auto", version="3.11", pip=PipOptions(index_url=index_url))
    config = make_config(base, "python main.py", python, docker=DockerImage(image=image))
    return plan_python_env(
        config, base_dir=base, image_template="unused:{version}", explicit_image=image, distributions_path=[site]
    )


def _timed_run(docker_client: Any, image: str, plan: PythonEnvPlan, command: str) -> tuple[ContainerRun, int]:
    """Run with the setup timed inside the container (container start-up is not the builder's cost)."""
    timed = PythonEnvPlan(**{**plan.__dict__, "setup_command": TIMED.format(setup=plan.setup_command, cmd=":")})
    result = run_in_container(docker_client, image, timed, command)
    match = re.search(r"setup_ms=(\d+)", result.output)
    assert match, result.output
    return result, int(match.group(1))


def test_cold_build_then_cache_hit(
    docker_client: Any, test_image: str, local_index: str, site_dir: Path, tmp_path: Path, env_volumes: list[str]
) -> None:
    write(tmp_path, {"main.py": "import tinypkg\nfrom othermod import WHO\nimport lib\n", "lib.py": "X = 2\n"})
    plan = _plan(tmp_path, site_dir, test_image, local_index)
    env_volumes.append(plan.volume_name)
    assert plan.requirements == ["other-name==2.1.0", "tinypkg==1.0.0"]

    check = (
        'python -c \'import sys, tinypkg, othermod, lib; print("venv", sys.prefix); '
        'print("tinypkg", tinypkg.__version__, othermod.WHO, lib.X)\''
    )
    cold = run_in_container(docker_client, test_image, plan, check)
    assert cold.exit_code == 0, cold.output
    assert "building environment" in cold.output
    assert "Successfully installed" in cold.output  # pip's own output is streamed
    assert "tinypkg 1.0.0 othermod 2" in cold.output
    assert f"venv {plan.venv_path.removesuffix('/venv')}/venv" in cold.output

    warm, setup_ms = _timed_run(docker_client, test_image, plan, check)
    assert warm.exit_code == 0, warm.output
    assert "environment cache hit" in warm.output
    assert "pip" not in warm.output.replace("dsjobs-pyenv", "")  # pip did not run
    assert "building environment" not in warm.output
    assert setup_ms < 1000, warm.output


def test_missing_requirement_fails_with_pip_message_before_cmd(
    docker_client: Any, test_image: str, local_index: str, site_dir: Path, tmp_path: Path, env_volumes: list[str]
) -> None:
    write(tmp_path, {"main.py": "print('hi')\n", "requirements.txt": "tinypkg==1.0.0\nno-such-package-xyz==9.9\n"})
    python = PythonEnv(
        type="manual",
        version="3.11",
        requirements_file="requirements.txt",
        pip=PipOptions(index_url=local_index),
    )
    plan = _plan(tmp_path, site_dir, test_image, local_index, python)
    env_volumes.append(plan.volume_name)
    result = run_in_container(docker_client, test_image, plan, "echo USER-CMD-RAN")
    assert result.exit_code == EXIT_ENV_FAILED == plan.failed_exit_code
    assert "USER-CMD-RAN" not in result.output
    assert result.marker is not None
    assert "could not be built: pip install failed" in result.marker
    assert "no-such-package-xyz" in result.marker
    assert "No matching distribution found" in result.marker

    # a failed build is not cached: the next run tries again (and fails the same way)
    again = run_in_container(docker_client, test_image, plan, "echo USER-CMD-RAN")
    assert again.exit_code == EXIT_ENV_FAILED
    assert "cache hit" not in again.output


def test_empty_requirements_still_give_a_venv_that_sees_image_packages(
    docker_client: Any, test_image: str, local_index: str, site_dir: Path, tmp_path: Path, env_volumes: list[str]
) -> None:
    write(tmp_path, {"main.py": "import json\n"})
    plan = _plan(tmp_path, site_dir, test_image, local_index)
    env_volumes.append(plan.volume_name)
    assert plan.requirements == []
    result = run_in_container(
        docker_client, test_image, plan, "command -v python; python -c 'import pip, sys; print(sys.prefix)'"
    )
    assert result.exit_code == 0, result.output
    assert f"{plan.venv_path}/bin/python" in result.output


def test_strict_version_mismatch_is_an_env_failure(
    docker_client: Any, test_image: str, local_index: str, site_dir: Path, tmp_path: Path, env_volumes: list[str]
) -> None:
    write(tmp_path, {"main.py": "import json\n"})
    python = PythonEnv(type="manual", version="3.12", version_given=True, local_paths=())
    plan = _plan(tmp_path, site_dir, test_image, local_index, python)
    env_volumes.append(plan.volume_name)
    result = run_in_container(docker_client, test_image, plan, "echo USER-CMD-RAN")
    assert result.exit_code == EXIT_ENV_FAILED
    assert result.marker is not None and "image runs Python 3.11 but env.python.version is 3.12" in result.marker


def test_builder_waits_for_a_build_in_progress_and_reuses_it(
    docker_client: Any, test_image: str, local_index: str, site_dir: Path, tmp_path: Path, env_volumes: list[str]
) -> None:
    """Deterministic lock check: another container holds the env's lock, then finishes the env."""
    write(tmp_path, {"main.py": "import tinypkg\n"})
    plan = _plan(tmp_path, site_dir, test_image, local_index)
    env_volumes.append(plan.volume_name)
    ensure_env_volume(plan, DockerEngine(docker_client.api, str(docker_client.api.base_url)))
    env_dir = f"{plan.volume_mount}/{plan.env_hash}"
    holder_code = (
        "import fcntl, os, time\n"
        f"f = open('{plan.volume_mount}/.{plan.env_hash}.lock', 'a')\n"
        "fcntl.flock(f, fcntl.LOCK_EX)\n"
        "print('locked', flush=True)\n"
        "time.sleep(4)\n"
        f"os.makedirs('{env_dir}', exist_ok=True)\n"
        f"open('{env_dir}/.complete', 'w').close()\n"
    )
    holder = docker_client.containers.run(
        test_image,
        ["python3", "-c", holder_code],
        detach=True,
        labels={"dsjobs.test": "pyenv"},
        volumes={plan.volume_name: {"bind": plan.volume_mount}},
    )
    try:
        deadline = time.monotonic() + 60
        while b"locked" not in holder.logs() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert b"locked" in holder.logs()
        result = run_in_container(docker_client, test_image, plan, "true")
    finally:
        holder.remove(force=True)
    assert result.exit_code == 0, result.output
    assert "another job is building this environment; waiting for it" in result.output
    assert "built by another job" in result.output
    assert "building environment" not in result.output


def test_two_jobs_building_the_same_env_at_once(
    docker_client: Any, test_image: str, local_index: str, site_dir: Path, tmp_path: Path, env_volumes: list[str]
) -> None:
    write(tmp_path, {"main.py": "import tinypkg\n"})
    plan = _plan(tmp_path, site_dir, test_image, local_index)
    env_volumes.append(plan.volume_name)
    results: list[ContainerRun] = []

    def job() -> None:
        results.append(run_in_container(docker_client, test_image, plan, "python -c 'import tinypkg'"))

    threads = [threading.Thread(target=job) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert [r.exit_code for r in results] == [0, 0], [r.output for r in results]
    outputs = "\n".join(r.output for r in results)
    assert outputs.count("building environment") == 1, outputs
    assert "cache hit" in outputs


def test_image_without_python_is_an_env_failure(
    docker_client: Any, test_image: str, local_index: str, site_dir: Path, tmp_path: Path, env_volumes: list[str]
) -> None:
    write(tmp_path, {"main.py": "import json\n"})
    plan = _plan(tmp_path, site_dir, test_image, local_index)
    env_volumes.append(plan.volume_name)
    # hide every python from the build step: only mkdir and tee stay on PATH
    hide = "mkdir -p /tmp/b && ln -s /bin/mkdir /usr/bin/tee /tmp/b/ && PATH=/tmp/b"
    no_python = PythonEnvPlan(**{**plan.__dict__, "build_command": f"{hide}; {plan.build_command}"})
    result = run_in_container(docker_client, test_image, no_python, "echo USER-CMD-RAN")
    assert result.exit_code == EXIT_ENV_FAILED, result.output
    assert "USER-CMD-RAN" not in result.output
    assert result.marker == "dsjobs-pyenv: the image has no python3.11 or python3 to build the environment with\n"


def test_a_job_cannot_change_its_environment(
    docker_client: Any, test_image: str, local_index: str, site_dir: Path, tmp_path: Path, env_volumes: list[str]
) -> None:
    """The volume is read-only in the job: neither a file written into ``sys.prefix`` nor ``pip install``
    reaches the environment the next job uses (with the volume read-write, both did)."""
    write(tmp_path, {"main.py": "import tinypkg\n"})
    plan = _plan(tmp_path, site_dir, test_image, local_index)
    env_volumes.append(plan.volume_name)
    tamper = (
        'python -c \'import sys; open(sys.prefix + "/poisoned", "w")\'; echo write=$?; '
        f"python -m pip install --no-cache-dir --index-url {local_index} --upgrade --force-reinstall other-name; "
        "echo pip=$?"
    )
    first = run_in_container(docker_client, test_image, plan, tamper)
    assert first.exit_code == 0, first.output
    assert "Read-only file system" in first.output
    assert "write=1" in first.output, first.output
    # pip falls back to the user's site (in this container's own layer): the environment is not touched
    assert "normal site-packages is not writeable" in first.output
    check = 'python -c \'import os, sys; print("poisoned", os.path.exists(sys.prefix + "/poisoned"))\'; pip list'
    second = run_in_container(docker_client, test_image, plan, check)
    assert "environment cache hit" in second.output
    assert "poisoned False" in second.output and "other-name" not in second.output


def test_an_unfinished_environment_is_never_used(
    docker_client: Any, test_image: str, local_index: str, site_dir: Path, tmp_path: Path, env_volumes: list[str]
) -> None:
    write(tmp_path, {"main.py": "import tinypkg\n"})
    plan = _plan(tmp_path, site_dir, test_image, local_index)
    env_volumes.append(plan.volume_name)
    ensure_env_volume(plan, DockerEngine(docker_client.api, str(docker_client.api.base_url)))
    half = f"mkdir -p {plan.venv_path}/bin && ln -s /bin/false {plan.venv_path}/bin/python"  # a build that died
    docker_client.containers.run(
        test_image,
        ["sh", "-c", half],
        remove=True,
        labels={"dsjobs.test": "pyenv"},
        volumes={plan.volume_name: {"bind": plan.volume_mount}},
    )
    # a job that got no build step refuses it...
    job = docker_client.containers.run(
        test_image,
        ["sh", "-c", f"{plan.setup_command} && echo USER-CMD-RAN"],
        detach=True,
        labels={"dsjobs.test": "pyenv"},
        volumes={plan.volume_name: {"bind": plan.volume_mount, "mode": "ro"}},
    )
    try:
        assert job.wait(timeout=120)["StatusCode"] == EXIT_ENV_FAILED
        output = job.logs().decode()
    finally:
        job.remove(force=True)
    assert "USER-CMD-RAN" not in output and "no finished build" in output
    # ...and the build step redoes it
    result = run_in_container(docker_client, test_image, plan, "python -c 'import tinypkg; print(\"ok\")'")
    assert result.exit_code == 0, result.output
    assert "removing an unfinished build" in result.output and "ok" in result.output
