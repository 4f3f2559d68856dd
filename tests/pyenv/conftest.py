"""Offline fixtures for Python environments: a wheelhouse of tiny pure-Python packages built here, a PEP 503
"simple" index serving it over HTTP on 127.0.0.1, a site directory with the packages installed (the
"submitting environment" of the analysis tests), and helpers to run the in-container builder."""

from __future__ import annotations

import contextlib
import hashlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.pyenv.helpers import build_wheel

#: name, version, files of each test distribution
PACKAGES: list[tuple[str, str, dict[str, str]]] = [
    ("tinypkg", "1.0.0", {"tinypkg/__init__.py": '__version__ = "1.0.0"\n', "tinypkg/core.py": "X = 1\n"}),
    ("other-name", "2.1.0", {"othermod.py": 'WHO = "othermod"\n'}),
]


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("index")
    wheels = root / "wheels"
    wheels.mkdir()
    for name, version, files in PACKAGES:
        wheel = build_wheel(wheels, name, version, files)
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        project = root / "simple" / name
        project.mkdir(parents=True)
        (project / "index.html").write_text(
            f'<!DOCTYPE html><html><body><a href="../../wheels/{wheel.name}#sha256={digest}">{wheel.name}</a>'
            "</body></html>\n"
        )
    (root / "simple" / "index.html").write_text(
        "<!DOCTYPE html><html><body>"
        + "".join(f'<a href="{name}/">{name}</a>' for name, _, _ in PACKAGES)
        + "</body></html>\n"
    )
    return wheels


@pytest.fixture(scope="session")
def local_index(wheelhouse: Path) -> Iterator[str]:
    """URL of a PEP 503 simple index on 127.0.0.1 (containers reach it with host networking)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port), "--directory", str(wheelhouse.parent)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}/simple"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="session")
def site_dir(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path) -> Path:
    """A site directory with the test packages installed by pip from the wheelhouse."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-index",
            "--find-links",
            str(wheelhouse),
            "--target",
            str(target),
            "tinypkg",
            "other-name",
        ],
        check=True,
    )
    return target


@pytest.fixture()
def env_volumes(docker_client: Any) -> Iterator[list[str]]:
    """Names of env volumes a test created; removed after the test."""
    import docker.errors

    names: list[str] = []
    yield names
    for name in names:
        with contextlib.suppress(docker.errors.NotFound):
            docker_client.volumes.get(name).remove(force=True)
