"""Fixtures for ML Lab jobs on the real Docker engine (used by tests/lab and tests/cli through their conftest): a
fresh project per test, a job image with its own ENTRYPOINT/CMD/ENV/WORKDIR built from the test image (removed at
the end), and cleanup of the containers and volumes (`/data`, env cache) the test's project created."""

from __future__ import annotations

import contextlib
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dsjobs.lab import LabJobHandler
from airflow_provider_dsjobs.settings import Settings
from tests.lab.git_https import TOKEN, GitHttpsServer, git_https_server
from tests.lab.helpers import build_image, make_repo

JOB_SH = """\
echo "args: $*"
echo "cwd: $(pwd)"
echo "greeting: $GREETING $TARGET"
echo "lab: $LAB_PROJECT ${LAB_ENDPOINT:-no-endpoint} ${LAB_API_TOKEN:+token-set}"
before=$(cat /data/count 2>/dev/null || echo 0)
echo "runs before: $before"
mkdir -p /data && echo $((before + 1)) > /data/count
if [ -n "$RESULT_VALUE" ]; then printf '%s' "$RESULT_VALUE" > "$DSJOBS_RESULT_FILE"; fi
exit ${EXIT_CODE:-0}
"""

DOCKERFILE = """\
ENV GREETING=hello TARGET=world
WORKDIR /app
COPY job.sh /app/job.sh
ENTRYPOINT ["/bin/sh", "/app/job.sh"]
CMD ["--from-cmd"]
"""


@pytest.fixture(scope="session")
def lab_image(docker_client: Any, test_image: str) -> Iterator[str]:
    tag = f"dsjobs-test-lab/job:{uuid.uuid4().hex[:10]}"
    build_image(docker_client, test_image, tag, DOCKERFILE, {"job.sh": JOB_SH})
    yield tag
    with contextlib.suppress(Exception):
        docker_client.images.remove(tag, force=True)


@pytest.fixture()
def lab_project(docker_client: Any) -> Iterator[str]:
    project = f"lab{uuid.uuid4().hex[:10]}"
    pyenv_before = {v.name for v in docker_client.volumes.list(filters={"label": "dsjobs.pyenv=1"})}
    yield project
    for c in docker_client.containers.list(all=True, filters={"label": f"dsjobs.project={project}"}):
        with contextlib.suppress(Exception):
            c.remove(force=True)
    for v in docker_client.volumes.list(filters={"label": f"dsjobs.project={project}"}):
        with contextlib.suppress(Exception):
            v.remove(force=True)
    for v in docker_client.volumes.list(filters={"label": "dsjobs.pyenv=1"}):
        if v.name not in pyenv_before and v.attrs.get("Labels", {}).get("dsjobs.pyenv.version") == "":
            with contextlib.suppress(Exception):
                v.remove(force=True)


@pytest.fixture()
def lab_settings(tmp_path: Path, test_image: str, lab_project: str) -> Settings:
    return Settings(
        store_url=(tmp_path / "store").as_uri(), project=lab_project, default_image=test_image, home=tmp_path / "home"
    )


@pytest.fixture()
def handler(lab_settings: Settings) -> Iterator[LabJobHandler]:
    lines: list[tuple[str, str]] = []
    h = LabJobHandler(lab_settings, log=lambda stream, line: lines.append((stream, line)))
    h.lines = lines  # type: ignore[attr-defined]
    yield h
    h.service.close()


@pytest.fixture()
def https_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[GitHttpsServer]:
    """``https://127.0.0.1:<port>/repo.git`` (branch ``main``, ``job/__main__.py``) served by git itself, answering
    only user ``bot`` with password ``TOKEN``; git trusts its certificate through ``GIT_SSL_CAINFO``."""
    served = tmp_path / "served"
    make_repo(served / "src", {"job/__main__.py": "print('over https')\n"})
    subprocess.run(["git", "clone", "-q", "--bare", str(served / "src"), str(served / "repo.git")], check=True)
    with git_https_server(served, tmp_path / "tls", "bot", TOKEN) as server:
        monkeypatch.setenv("GIT_SSL_CAINFO", str(server.ca_file))
        yield server
