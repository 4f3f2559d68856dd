"""The project disk (``flags: [attach-project-disk]``, ``${DS_PROJECT_HOME}``): a Docker volume per project,
``dsjobs-project-<project>``, mounted read-only at ``/job/project`` in every job that asks for it.

``dsjobs project-disk put|ls|rm`` fill and inspect it without raw ``docker`` commands. Every operation is a
short-lived helper container on the same engine with the volume mounted read-write (label
``dsjobs.helper=project-disk``): files travel through the Docker API as a tar stream, so it works the same on a
remote engine — the volume lives on that engine, and each engine has its own project disk.
"""

from __future__ import annotations

import posixpath
import re
import shlex
import stat
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

from airflow_provider_dsjobs.runtime.containers import Runtime
from airflow_provider_dsjobs.runtime.errors import RuntimeFailure
from airflow_provider_dsjobs.runtime.helper import helper_spec, run_helper
from airflow_provider_dsjobs.runtime.labels import LABEL_PROJECT
from airflow_provider_dsjobs.runtime.tarstream import TarDir, TarEntry, TarFile, directory_entries, tar_stream
from airflow_provider_dsjobs.runtime.volumes import CACHE_PROJECT_DISK, cache_labels

MOUNT = "/disk"


def project_volume_name(project: str) -> str:
    """The project disk's volume (mounted read-only into the project's jobs at ``jobs/plan.py``'s ``PROJECT_DIR``)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "-", project)
    return f"dsjobs-project-{safe}"


def project_disk_labels(project: str) -> dict[str, str]:
    """The labels a project disk is created with (by a job that attaches it or by ``dsjobs project-disk``)."""
    return {LABEL_PROJECT: project, "dsjobs.project-disk": "1", **cache_labels(CACHE_PROJECT_DISK)}


class ProjectDiskError(RuntimeFailure):
    """A project-disk operation failed (one line)."""


@dataclass(frozen=True)
class DiskFile:
    path: str
    size: int


def disk_path(path: str) -> str:
    """A path on the disk, relative and inside it (``""`` is the root)."""
    norm = posixpath.normpath(path.strip() or ".")
    if posixpath.isabs(norm) or norm == ".." or norm.startswith("../"):
        raise ProjectDiskError(f"invalid project-disk path {path!r}: use a relative path inside the disk")
    return "" if norm == "." else norm


class ProjectDisk:
    """One project's disk on one engine; ``image`` runs the helper containers (it needs ``sh``, ``find``,
    ``stat`` and ``rm``)."""

    def __init__(self, runtime: Runtime, project: str, image: str) -> None:
        self.runtime = runtime
        self.project = project
        self.image = image
        self.volume = project_volume_name(project)

    def _run(self, script: str, *, create_only: bool = False) -> tuple[str, list[str]]:
        self.runtime.ensure_image(self.image)
        self.runtime.create_volume(self.volume, project_disk_labels(self.project))
        spec = replace(
            helper_spec(self.image, ["/bin/sh", "-c", script], {LABEL_PROJECT: self.project}, "project-disk"),
            user=None,
            volumes={self.volume: {"bind": MOUNT, "mode": "rw"}},
        )
        if create_only:
            return self.runtime.create(spec), []
        code, lines = run_helper(self.runtime, spec)
        if code != 0:
            raise ProjectDiskError(f"project disk of {self.project}: {lines[-1] if lines else f'exit {code}'}")
        return "", lines

    def put(self, local: Path, directory: str = "") -> int:
        """Copy a local file or directory into ``directory`` of the disk; returns the number of files."""
        target = disk_path(directory)
        if not local.exists():
            raise ProjectDiskError(f"no such file or directory: {local}")
        prefix = posixpath.join(target, local.name) if target else local.name
        entries = list(_entries(local, prefix, target))
        cid, _ = self._run("true", create_only=True)
        try:
            self.runtime.put_archive(cid, MOUNT, tar_stream(entries))
        finally:
            self.runtime.remove(cid, force=True)
        return sum(1 for e in entries if isinstance(e, TarFile))

    def ls(self, directory: str = "") -> list[DiskFile]:
        """Every file under ``directory`` of the disk, with its size."""
        where = shlex.quote(posixpath.join(MOUNT, disk_path(directory)))
        missing = shlex.quote(f"no such directory on the project disk: {directory}")
        script = f"cd {where} 2>/dev/null || {{ echo {missing}; exit 1; }}\nfind . -type f -exec stat -c '%s %n' {{}} +"
        _, lines = self._run(script)
        files = []
        for line in lines:
            size, _, name = line.partition(" ")
            files.append(DiskFile(posixpath.normpath(posixpath.join(disk_path(directory), name)), int(size)))
        return sorted(files, key=lambda f: f.path)

    def rm(self, path: str) -> None:
        """Delete a file or directory of the disk."""
        target = disk_path(path)
        if not target:
            raise ProjectDiskError("refusing to remove the whole project disk: name a file or directory")
        where = shlex.quote(posixpath.join(MOUNT, target))
        missing = shlex.quote(f"no such path on the project disk: {target}")
        self._run(f"[ -e {where} ] || {{ echo {missing}; exit 1; }}\nrm -rf -- {where}")


def _entries(local: Path, prefix: str, parent: str) -> list[TarEntry]:
    """The tar entries for ``local`` at ``prefix``, after the directories of ``parent``."""
    parts = [p for p in parent.split("/") if p]
    out: list[TarEntry] = [TarDir("/".join(parts[: i + 1]), mode=0o755) for i in range(len(parts))]
    if local.is_dir():
        out.extend(directory_entries(local, prefix))
    else:
        st = local.stat()
        out.append(TarFile(prefix, size=st.st_size, opener=_binary(local), mode=stat.S_IMODE(st.st_mode)))
    return out


def _binary(path: Path) -> Callable[[], BinaryIO]:
    def opener() -> BinaryIO:
        return path.open("rb")

    return opener
