"""Helpers for the ML Lab tests: git repositories made on the spot (``git+file://``), job images built from the
test image with their own ENTRYPOINT/CMD/ENV (no registry, no network)."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path
from typing import Any


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args],
        check=True,
        capture_output=True,
        text=True,
        env={
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.com",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.com",
            "HOME": str(repo),
            "PATH": "/usr/bin:/bin",
        },
    )
    return done.stdout.strip()


def write(base: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = base / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def make_repo(path: Path, files: dict[str, str], message: str = "first") -> str:
    """A git repository at ``path`` (branch ``main``) with ``files`` committed; returns the commit id."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    return commit(path, files, message)


def commit(repo: Path, files: dict[str, str], message: str) -> str:
    write(repo, files)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def build_image(docker_client: Any, base: str, tag: str, dockerfile: str, files: dict[str, str] | None = None) -> str:
    """``docker build`` of ``FROM base`` + ``dockerfile`` with ``files`` in the context; returns ``tag``."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, text in {"Dockerfile": f"FROM {base}\n{dockerfile}", **(files or {})}.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755
            tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    docker_client.images.build(fileobj=buf, custom_context=True, tag=tag, rm=True, labels={"dsjobs.test": "lab"})
    return tag
