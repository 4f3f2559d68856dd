"""A Python job through the whole service, as a user runs it: ``cmd: python -u main.py`` with ``env.python``,
a local package shipped with the job, a third-party package pinned to the version installed where the job is
submitted and installed in the container from a local index, and the environment cache on the second run.

Real Docker engine, real pip in the container, a package index on 127.0.0.1 (host networking).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dsjobs.config import load_config
from airflow_provider_dsjobs.documents.record import JobRecord, JobStatus
from airflow_provider_dsjobs.jobs.service import JobService
from airflow_provider_dsjobs.settings import Settings

MAIN = """\
import tinypkg
from helpers.fmt import shout

if __name__ == "__main__":
    print(shout(tinypkg.__version__))
"""

FILES = {
    "main.py": MAIN,
    "helpers/__init__.py": "",
    "helpers/fmt.py": "def shout(text):\n    return f'TINY {text}!'\n",
}


def _write(base: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = base / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.fixture()
def python_settings(tmp_path: Path, test_image: str, docker_client: Any) -> Iterator[Settings]:
    """Embedded store in tmp, the test image for every Python version, host networking to reach the index.
    Env volumes created by the test are removed afterwards."""
    before = {v.name for v in docker_client.volumes.list(filters={"label": "dsjobs.pyenv=1"})}
    repo = test_image.rsplit(":", 1)[0]
    yield Settings(
        store_url=(tmp_path / "store").as_uri(),
        home=tmp_path / "home",
        project=f"pyenv-e2e-{uuid.uuid4().hex[:8]}",
        default_image=test_image,
        python_image_template=repo + ":{version}",
        docker_network="host",
    )
    for volume in docker_client.volumes.list(filters={"label": "dsjobs.pyenv=1"}):
        if volume.name not in before:
            with contextlib.suppress(Exception):
                volume.remove(force=True)


def _run(service: JobService, config_path: Path) -> tuple[JobRecord, list[tuple[str, str]]]:
    lines: list[tuple[str, str]] = []
    record = service.submit(load_config(config_path))
    done = service.wait(record.id, log=lambda stream, line: lines.append((stream, line)))
    return done, lines


def test_auto_env_with_local_package_and_pinned_wheel_then_cache_hit(
    tmp_path: Path, local_index: str, site_dir: Path, python_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The submitting environment has tinypkg 1.0.0 installed; auto mode pins exactly that version.
    monkeypatch.syspath_prepend(str(site_dir))
    importlib.invalidate_caches()
    job = tmp_path / "job"
    _write(job, FILES)
    (job / "config.yaml").write_text(
        "name: auto-env\n"
        "cmd: python -u main.py\n"
        "env:\n"
        "  python:\n"
        "    type: auto\n"
        "    pip:\n"
        f"      index-url: {local_index}\n"
        "      trusted-hosts: [127.0.0.1]\n"
    )
    service = JobService(python_settings)

    cold, cold_lines = _run(service, job / "config.yaml")
    assert cold.status == JobStatus.SUCCESS, cold.status_details
    stdout = [line for stream, line in cold_lines if stream == "stdout"]
    # main.py and helpers/ are not in `inputs`: they reach the container only because the entry point behind
    # `-u` was found and analysed (the official CLI takes `-u` for the script); tinypkg was pinned and installed.
    assert "TINY 1.0.0!" in stdout
    assert any("tinypkg==1.0.0" in line or "Successfully installed tinypkg-1.0.0" in line for line in stdout), stdout
    assert any(line.startswith("dsjobs-pyenv: building environment") for line in stdout)

    warm, warm_lines = _run(service, job / "config.yaml")
    assert warm.status == JobStatus.SUCCESS, warm.status_details
    warm_stdout = [line for stream, line in warm_lines if stream == "stdout"]
    assert "TINY 1.0.0!" in warm_stdout
    assert any(line.startswith("dsjobs-pyenv: environment cache hit") for line in warm_stdout), warm_stdout
    assert not any("Successfully installed" in line for line in warm_stdout)


def test_unresolvable_import_is_refused_before_anything_runs(
    tmp_path: Path, python_settings: Settings, docker_client: Any
) -> None:
    job = tmp_path / "job"
    _write(job, {"main.py": "import surely_not_installed_pkg_xyz\n"})
    (job / "config.yaml").write_text("cmd: python main.py\nenv:\n  python: auto\n")
    service = JobService(python_settings)
    with pytest.raises(Exception, match="surely_not_installed_pkg_xyz") as caught:
        service.submit(load_config(job / "config.yaml"))
    assert "requirements-file" in str(caught.value)
    assert "\n" not in str(caught.value).strip()
    assert not docker_client.containers.list(all=True, filters={"label": f"dsjobs.project={python_settings.project}"})


POISON = """\
import os, sys
marker = os.path.join(sys.prefix, "poisoned-by-a-job")
print("poisoned before:", os.path.exists(marker))
try:
    with open(marker, "w") as fh:
        fh.write("x")
    print("wrote into sys.prefix")
except OSError as exc:
    print("write refused:", exc.strerror)
"""


def test_one_projects_job_cannot_poison_another_projects_python(
    tmp_path: Path, python_settings: Settings, docker_client: Any
) -> None:
    """The reported attack: a job of project A writes into its ``sys.prefix``; the next job with the same
    requirements, of project B (or of A), must not see it. Each project builds its own environment, and jobs get
    it read-only."""
    job = tmp_path / "job"
    _write(job, {"main.py": POISON})
    (job / "config.yaml").write_text("cmd: python -u main.py\nenv:\n  python: auto\n")
    project_a = python_settings.project
    project_b = f"{project_a}-b"

    for run in range(2):  # the first run builds A's environment, the second uses it
        done, lines = _run(JobService(python_settings), job / "config.yaml")
        stdout = [line for stream, line in lines if stream == "stdout"]
        assert done.status == JobStatus.SUCCESS, done.status_details
        assert "write refused: Read-only file system" in stdout, stdout
        assert "poisoned before: False" in stdout and "wrote into sys.prefix" not in stdout, stdout
        assert any(line.startswith("dsjobs-pyenv: environment cache hit") for line in stdout) == (run == 1), stdout

    other, lines = _run(JobService(dataclasses.replace(python_settings, project=project_b)), job / "config.yaml")
    stdout = [line for stream, line in lines if stream == "stdout"]
    assert other.status == JobStatus.SUCCESS, other.status_details
    assert "poisoned before: False" in stdout, stdout
    assert any(line.startswith("dsjobs-pyenv: building environment") for line in stdout), stdout  # its own

    def volumes(project: str) -> list[Any]:
        return docker_client.volumes.list(filters={"label": ["dsjobs.pyenv=1", f"dsjobs.project={project}"]})

    found = volumes(project_a), volumes(project_b)
    assert [len(v) for v in found] == [1, 1], found
    (vol_a,), (vol_b,) = found
    assert vol_a.name != vol_b.name
    assert vol_a.attrs["Labels"]["dsjobs.pyenv.hash"] == vol_b.attrs["Labels"]["dsjobs.pyenv.hash"]
    # no build-step container is left behind
    for project in (project_a, project_b):
        labels = ["dsjobs.helper=pyenv-build", f"dsjobs.project={project}"]
        assert not docker_client.containers.list(all=True, filters={"label": labels})


def test_a_failed_build_step_ends_the_job_with_pips_reason(
    tmp_path: Path, local_index: str, python_settings: Settings, docker_client: Any
) -> None:
    job = tmp_path / "job"
    _write(job, {"main.py": "print('USER-CODE-RAN')\n", "requirements.txt": "no-such-package-xyz==9.9\n"})
    (job / "config.yaml").write_text(
        "cmd: python main.py\n"
        "env:\n"
        "  python:\n"
        "    type: manual\n"
        '    version: "3.11"\n'
        "    requirements-file: requirements.txt\n"
        "    local-paths: [main.py]\n"
        "    pip:\n"
        f"      index-url: {local_index}\n"
    )
    notes: list[str] = []
    service = JobService(python_settings)
    record = service.submit(load_config(job / "config.yaml"), notify=notes.append)
    lines: list[tuple[str, str]] = []
    done = service.wait(record.id, log=lambda stream, line: lines.append((stream, line)))
    assert done.status == JobStatus.ERROR
    assert done.status_details is not None and done.status_details.startswith("Python environment build failed: ")
    assert "No matching distribution found for no-such-package-xyz==9.9" in done.status_details
    assert "USER-CODE-RAN" not in [line for _, line in lines]
    assert any(n.startswith("python environment: building it in a build step") for n in notes), notes
    labels = ["dsjobs.helper=pyenv-build", f"dsjobs.project={python_settings.project}"]
    assert not docker_client.containers.list(all=True, filters={"label": labels})
