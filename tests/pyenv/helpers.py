"""Helpers for the Python-environment tests: test wheels, configs, and running the builder in a container
the way the orchestrator does."""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airflow_provider_dsjobs.config.model import Env, JobConfig, PipOptions, PythonEnv


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel(dest: Path, name: str, version: str, files: dict[str, str]) -> Path:
    """A minimal, valid pure-Python wheel (PEP 427) with no top_level.txt (names come from RECORD)."""
    norm = name.replace("-", "_")
    dist_info = f"{norm}-{version}.dist-info"
    contents: dict[str, bytes] = {path: text.encode() for path, text in files.items()}
    contents[f"{dist_info}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
    contents[f"{dist_info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: dsjobs-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    record = [f"{path},{_record_hash(data)},{len(data)}" for path, data in contents.items()]
    record.append(f"{dist_info}/RECORD,,")
    contents[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = dest / f"{norm}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, data in contents.items():
            zf.writestr(path, data)
    return wheel


def make_config(base_dir: Path, cmd: str, python: PythonEnv, *, docker: Any = None) -> JobConfig:
    return JobConfig(
        cmd=cmd, env=Env(python=python, docker=docker), base_dir=base_dir, source=str(base_dir / "config.yaml")
    )


def auto_env(version: str = "3.11", **kwargs: Any) -> PythonEnv:
    return PythonEnv(type="auto", version=version, **kwargs)


def index_pip(index_url: str) -> PipOptions:
    return PipOptions(index_url=index_url)


def write(base: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = base / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@dataclass
class ContainerRun:
    exit_code: int
    output: str
    marker: str | None


def _tar(files: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path, data in files:
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def run_in_container(docker_client: Any, image: str, plan: Any, command: str, *, project: str = "") -> ContainerRun:
    """What the orchestrator does (``jobs/env_build.py``): labelled volume, the job's container created with the
    volume read-only; unless the environment is complete, the build step (a helper container with the builder,
    its spec and the volume read-write) builds it and the job gets its output (and its failure marker); the job
    runs the setup command before ``command``, host networking (to reach the local index); removed after."""
    from airflow_provider_dsjobs.jobs.env_build import builder_entries, is_ready, run_build_step
    from airflow_provider_dsjobs.jobs.plan import python_setup_of
    from airflow_provider_dsjobs.pyenv.cache import ensure_env_volume
    from airflow_provider_dsjobs.runtime.containers import Runtime
    from airflow_provider_dsjobs.runtime.engine import DockerEngine
    from airflow_provider_dsjobs.runtime.tarstream import tar_stream

    engine = DockerEngine(docker_client.api, str(docker_client.api.base_url))
    runtime = Runtime(engine)
    ensure_env_volume(plan, engine)
    python = python_setup_of(plan)
    container = docker_client.containers.create(
        image,
        command=["sh", "-c", f"{plan.setup_command} && {command}"],
        working_dir="/job",
        network_mode="host",
        labels={"dsjobs.test": "pyenv"},
        volumes={plan.volume_name: {"bind": plan.volume_mount, "mode": "ro"}},
    )
    try:
        container.put_archive("/", _tar([(f"/job/{rel}", path.read_bytes()) for path, rel in plan.local_files]))
        if not is_ready(runtime, container.id, plan.ready_path):
            labels = {"dsjobs.test": "pyenv", "dsjobs.project": project}
            result = run_build_step(
                runtime, python, image=image, env={}, labels=labels, network="host", files=builder_entries(python)
            )
            container.put_archive("/", b"".join(tar_stream(result.job_entries(python))))
        container.start()
        exit_code = int(container.wait(timeout=600)["StatusCode"])
        output = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
        marker: str | None = None
        if exit_code == plan.failed_exit_code:
            stream, _ = container.get_archive(plan.failed_marker)
            with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
                member = tar.getmembers()[0]
                extracted = tar.extractfile(member)
                assert extracted is not None
                marker = extracted.read().decode()
        return ContainerRun(exit_code, output, marker)
    finally:
        container.remove(force=True)


def unique_plan(base: Path, image: str = "dsjobs-test/python:3.11", project: str = "") -> Any:
    """A fully manual plan whose hash is new (a unique requirement line), so no other test shares it."""
    write(base, {"main.py": "", "requirements.txt": f"pkg-{uuid.uuid4().hex[:8]}==1.0\n"})
    python = PythonEnv(
        type="manual", version="3.11", version_given=True, requirements_file="requirements.txt", local_paths=()
    )
    config = make_config(base, "python main.py", python)
    from airflow_provider_dsjobs.pyenv.plan import plan_python_env

    return plan_python_env(config, base_dir=base, image_template="img:{version}", explicit_image=image, project=project)
