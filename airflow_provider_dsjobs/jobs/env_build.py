"""The build step of a job's cached environment: built here, read-only in every job (``pyenv/build_step.py``).

After the job's container is created (its environment volume mounted read-only) and before it starts,
:func:`build_environment` asks the engine whether the environment is complete (``ready_path`` in the volume, read
through the created container: one API call, so a warm run costs nothing more). When it is not, a helper container
(label ``dsjobs.helper=pyenv-build``) from the job's image, with the job's environment variables and network and
the volume mounted **read-write**, runs the build script and is removed. Two jobs starting together both run a
build step; the builder's lock on the volume makes the second wait and reuse the first's environment, and a build
that died half-way is redone (``.complete`` is written last).

The job's container then gets the build step's output (its script prints it, so the job's log shows pip as
before) and, when the build failed, the reason at its failure marker: the job ends ERROR with it as before.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace

from airflow_provider_dsjobs.documents.plan_doc import PythonSetup
from airflow_provider_dsjobs.jobs.plan import JobPlan, python_build_files
from airflow_provider_dsjobs.pyenv.build_step import BUILD_HELPER
from airflow_provider_dsjobs.runtime.base import ContainerRuntime
from airflow_provider_dsjobs.runtime.errors import PathNotFound, WaitTimeout
from airflow_provider_dsjobs.runtime.helper import helper_spec
from airflow_provider_dsjobs.runtime.labels import LABEL_PROJECT
from airflow_provider_dsjobs.runtime.tarstream import TarDir, TarEntry, TarFile, tar_stream

#: Label of a build step's container naming the job it builds for.
LABEL_BUILD_FOR = "dsjobs.pyenv.build-for"
#: How long a build step may run (the builder waits up to an hour for another build of the same environment).
BUILD_TIMEOUT = 4000.0
#: Bytes of the build step's output kept for the job's log (the end is kept).
LOG_LIMIT = 1 << 20
#: Bytes of the failure marker read back from the build step.
MARKER_LIMIT = 64 << 10

Notify = Callable[[str], None]


def build_environment(
    runtime: ContainerRuntime,
    plan: JobPlan,
    container_id: str,
    network: str | None,
    job_entries: Callable[[], Iterable[TarEntry]],
    say: Notify,
) -> list[TarEntry]:
    """Build the environment of ``plan`` unless it is complete; the files to add to the job's container
    ``container_id`` (none when nothing was built). ``job_entries`` gives the job's own files, for a build step
    that needs them (ML Lab's code)."""
    python = plan.python
    if python is None or not python.build_command or not python.ready_path:
        return []
    if is_ready(runtime, container_id, python.ready_path):
        return []
    say(f"python environment: building it in a build step (volume {python.volume_name})")
    started = time.monotonic()
    files = job_entries() if python.build_with_inputs else builder_entries(python)
    labels = {LABEL_PROJECT: plan.project, LABEL_BUILD_FOR: plan.job_id}  # not dsjobs.job_id: not the job's container
    result = run_build_step(
        runtime, python, image=plan.image, env=plan.env, labels=labels, network=network, files=files
    )
    took = time.monotonic() - started
    if result.exit_code == 0:
        say(f"python environment: built in {took:.1f} s")
    else:
        say(f"python environment: the build step {result.reason} after {took:.1f} s; the job ends with its reason")
    return result.job_entries(python)


@dataclass(frozen=True)
class BuildResult:
    """What a build step did: its exit code (None: timed out), its output (the end of it), its failure marker."""

    exit_code: int | None
    log: bytes
    marker: bytes

    @property
    def reason(self) -> str:
        return "timed out" if self.exit_code is None else f"ended with exit code {self.exit_code}"

    def job_entries(self, python: PythonSetup) -> list[TarEntry]:
        """The files the job's container gets: the build's output and, when it failed, the reason."""
        entries: list[TarEntry] = [_file(python.build_log, self.log)]
        if self.exit_code != 0:
            marker = self.marker or (
                f"dsjobs-pyenv: the Python environment could not be built: the build step {self.reason}\n".encode()
            )
            entries.append(_file(python.failed_marker, marker))
        return entries


def is_ready(runtime: ContainerRuntime, container_id: str, path: str) -> bool:
    """Whether ``path`` exists in the (created, not necessarily started) container: its volumes are read too."""
    try:
        runtime.export(container_id, path).close()
    except PathNotFound:
        return False
    return True


def run_build_step(
    runtime: ContainerRuntime,
    python: PythonSetup,
    *,
    image: str,
    env: Mapping[str, str],
    labels: Mapping[str, str],
    network: str | None,
    files: Iterable[TarEntry],
    timeout: float = BUILD_TIMEOUT,
) -> BuildResult:
    """Run ``python.build_command`` in a helper container from ``image`` with ``files`` put in, the environment
    volume mounted read-write, and ``env``/``network`` (the job's: a package index may need them); removed after."""
    spec = replace(
        helper_spec(image, ["/bin/sh", "-c", python.build_command], dict(labels), BUILD_HELPER),
        env=dict(env),
        working_dir=python.build_workdir,
        network=network,
        volumes={python.volume_name: {"bind": python.volume_mount, "mode": "rw"}},
    )
    cid = runtime.create(spec)
    try:
        runtime.put_archive(cid, "/", tar_stream(files))
        runtime.start(cid)
        code: int | None
        try:
            code = runtime.wait(cid, timeout=timeout)
        except WaitTimeout:
            code = None
        log = "".join(f"{line}\n" for _, line in runtime.stream_logs(cid, follow=False)).encode()
        marker = _read_file(runtime, cid, python.failed_marker) if code != 0 else b""
    finally:
        runtime.remove(cid, force=True)
    return BuildResult(code, log[-LOG_LIMIT:], marker)


def builder_entries(python: PythonSetup) -> Iterator[TarEntry]:
    """The builder and its spec, with their parent directories."""
    done: set[str] = set()
    for path, content in python_build_files(python):
        parts = path.strip("/").split("/")[:-1]
        for i in range(1, len(parts) + 1):
            directory = "/".join(parts[:i])
            if directory not in done:
                done.add(directory)
                yield TarDir(directory, mode=0o755)
        yield _file(path, content)


def _read_file(runtime: ContainerRuntime, cid: str, path: str) -> bytes:
    try:
        reader = runtime.export(cid, path)
    except PathNotFound:
        return b""
    with reader, reader.open_tar() as archive:
        for member in archive:
            fh = archive.extractfile(member) if member.isfile() else None
            if fh is not None:
                return fh.read(MARKER_LIMIT)
    return b""


def _file(path: str, content: bytes) -> TarFile:
    return TarFile(path.lstrip("/"), size=len(content), opener=lambda: io.BytesIO(content), mode=0o644)
