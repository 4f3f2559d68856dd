"""Cold vs warm Python environment of the same job (``env.python`` manual, requirements from a local wheel index).

Three tiny pure-Python packages are built here as wheels (``benchpkgb`` depends on ``benchpkga``) and served by
``python -m http.server`` on 127.0.0.1 as a PEP 503 index; containers use the host network to reach it. The job::

    cmd: echo bench-env-ready; python main.py      # main.py imports the three packages
    env.python: manual, version 3.11, requirements-file (--index-url + 2 pins), local-paths [main.py]

Measured two ways:

1. **Environment layer** (``pyenv``): the job's container as the orchestrator runs it — ``plan_python_env``,
   ``ensure_env_volume``, the job's container created with the volume read-only at ``volume_mount``; unless the
   environment is complete, the build step (``jobs/env_build.py``: a helper container with builder and spec, the
   volume read-write); then ``main.py`` delivered with ``tar_stream``, ``setup_command`` and ``cmd`` in one shell.
   The env phase is the build step's wall time plus the time between two marker lines printed right before and
   right after ``setup_command``, from the engine's log timestamps.
2. **Through ``JobService``** (submit + wait + finalize): the env phase is from the job's container being created
   (the build step runs after that) to the ``bench-env-ready`` line reaching the log sink; if the job does not
   succeed, that is reported as a failure.

Cold = the environment's volume removed first; warm = the same job again. Target: a warm run spends under a second
on its environment. Usage: ``python -m bench.bench_pyenv [--warm-runs 3]``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

import docker
import docker.errors

from bench.common import BENCH_LABEL, free_port, row, write_results

IMAGE_TEMPLATE = os.environ.get("DSJOBS_BENCH_PYTHON_IMAGE", "dsjobs-test/python:{version}")
LABELS = {"dsjobs.test": "bench", BENCH_LABEL: "bench_pyenv"}
TARGET_WARM = 1.0
START, READY = "bench-env-start", "bench-env-ready"
PACKAGES = {  # name -> (module source, requirements)
    "benchpkga": ("VALUE = 'a'\n", []),
    "benchpkgb": ("from benchpkga import VALUE as A\nVALUE = A + 'b'\n", ["benchpkga==1.0"]),
    "benchpkgc": ("VALUE = 'c'\n", []),
}
MAIN = "import benchpkgb, benchpkgc\nprint('values', benchpkgb.VALUE, benchpkgc.VALUE)\n"


# -- the wheel index ------------------------------------------------------------------------------------------


def build_wheel(directory: Path, name: str, version: str, source: str, requires: list[str]) -> Path:
    """A minimal valid pure-Python wheel: the module, METADATA, WHEEL and a RECORD with hashes."""
    dist = f"{name}-{version}"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    metadata += "".join(f"Requires-Dist: {r}\n" for r in requires)
    files = {
        f"{name}/__init__.py": source,
        f"{dist}.dist-info/METADATA": metadata,
        f"{dist}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{dist}-py3-none-any.whl"
    record = []
    with zipfile.ZipFile(path, "w") as wheel:
        for arcname, text in files.items():
            data = text.encode()
            wheel.writestr(arcname, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{arcname},sha256={digest},{len(data)}")
        record.append(f"{dist}.dist-info/RECORD,,")
        wheel.writestr(f"{dist}.dist-info/RECORD", "\n".join(record) + "\n")
    return path


class WheelIndex:
    """``/simple/<name>/`` directories holding the wheels, served by ``http.server`` (its directory listings are
    valid PEP 503 project pages)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        for name, (source, requires) in PACKAGES.items():
            build_wheel(root / "simple" / name, name, "1.0", source, requires)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/simple/"
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> WheelIndex:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(self.port), "--bind", "127.0.0.1", "-d", str(self.root)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import urllib.request

        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(self.url + "benchpkga/", timeout=2) as response:
                    if b"benchpkga-1.0" in response.read():
                        return self
            except OSError:
                if time.monotonic() > deadline:
                    self.__exit__()
                    raise RuntimeError("the wheel index did not start") from None
                time.sleep(0.2)

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(timeout=10)


def write_job(directory: Path, index_url: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "main.py").write_text(MAIN)
    (directory / "requirements.txt").write_text(f"--index-url {index_url}\nbenchpkgb==1.0\nbenchpkgc==1.0\n")
    config = directory / "config.yaml"
    config.write_text(
        "name: pyenv-bench\n"
        "cmd: |\n"
        f"  echo {READY}\n"
        "  python main.py\n"
        "env:\n"
        "  python:\n"
        "    type: manual\n"
        '    version: "3.11"\n'
        "    requirements-file: requirements.txt\n"
        "    local-paths:\n"
        "      - main.py\n"
    )
    return config


# -- 1. the environment layer ---------------------------------------------------------------------------------


def _stamp(text: str) -> datetime:
    """An engine log timestamp (RFC 3339 with nanoseconds) as a datetime (microseconds)."""
    whole, _, frac = text.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{whole}.{(frac + '000000')[:6]}+00:00")


def run_layer(client: Any, plan: Any, config: Any, base: Path) -> dict[str, Any]:
    """One container doing what a job with ``plan`` does; env seconds (from log stamps), total seconds, output."""
    from airflow_provider_dsjobs.documents.plan_doc import PythonSetup
    from airflow_provider_dsjobs.jobs.env_build import builder_entries, is_ready, run_build_step
    from airflow_provider_dsjobs.pyenv.cache import ensure_env_volume
    from airflow_provider_dsjobs.runtime.containers import Runtime
    from airflow_provider_dsjobs.runtime.engine import DockerEngine
    from airflow_provider_dsjobs.runtime.tarstream import TarEntry, TarFile, tar_stream

    def blob(data: bytes) -> Any:
        return lambda: io.BytesIO(data)

    started = time.perf_counter()
    engine = DockerEngine(client.api, str(client.api.base_url))
    ensure_env_volume(plan, engine)
    entries: list[TarEntry] = []
    for local, rel in plan.local_files:
        data = Path(local).read_bytes()
        entries.append(TarFile(f"job/{rel}", len(data), blob(data)))
    script = f"echo {START}\n{plan.setup_command}\n{config.cmd.strip()}"
    host_config = client.api.create_host_config(
        binds={plan.volume_name: {"bind": plan.volume_mount, "mode": "ro"}}, network_mode="host"
    )
    cid = client.api.create_container(
        plan.image,
        ["sh", "-c", script],
        working_dir="/job",
        labels=LABELS,
        host_config=host_config,
        name=f"bench-pyenv-{uuid.uuid4().hex[:8]}",
    )["Id"]
    build_s = 0.0
    try:
        runtime, python = Runtime(engine), PythonSetup.from_pyplan(plan)
        if not is_ready(runtime, cid, plan.ready_path):
            build_started = time.perf_counter()
            built = run_build_step(
                runtime, python, image=plan.image, env={}, labels=LABELS, network="host", files=builder_entries(python)
            )
            entries += built.job_entries(python)
            build_s = time.perf_counter() - build_started
        client.api.put_archive(cid, "/", tar_stream(entries))
        client.api.start(cid)
        code = client.api.wait(cid)["StatusCode"]
        total = time.perf_counter() - started
        log = client.api.logs(cid, stdout=True, stderr=True, timestamps=True).decode("utf-8", "replace")
    finally:
        client.api.remove_container(cid, force=True)
    stamps: dict[str, datetime] = {}
    lines = []
    for line in log.splitlines():
        stamp, _, text = line.partition(" ")
        lines.append(text)
        if text in (START, READY) and text not in stamps:
            stamps[text] = _stamp(stamp)
    if code != 0 or START not in stamps or READY not in stamps:
        raise RuntimeError(f"pyenv container exited {code}: {' | '.join(lines[-5:])}")
    env = build_s + (stamps[READY] - stamps[START]).total_seconds()
    hit = any("environment cache hit" in text for text in lines)
    return {"env": env, "total": total, "hit": hit, "output": lines[-1]}


def remove_volume(client: Any, name: str) -> None:
    with contextlib.suppress(docker.errors.NotFound):
        client.volumes.get(name).remove(force=True)


def layer_rows(client: Any, config_path: Path, cold_runs: int, warm_runs: int) -> list[dict[str, str]]:
    from airflow_provider_dsjobs.config import load_config
    from airflow_provider_dsjobs.pyenv.plan import plan_python_env

    config = load_config(config_path)
    plan = plan_python_env(config, base_dir=config_path.parent, image_template=IMAGE_TEMPLATE, explicit_image=None)
    cold: list[dict[str, Any]] = []
    warm: list[dict[str, Any]] = []
    try:
        for _ in range(cold_runs):
            remove_volume(client, plan.volume_name)
            cold.append(run_layer(client, plan, config, config_path.parent))
            print(f"layer cold: {cold[-1]}")
        for _ in range(warm_runs):
            warm.append(run_layer(client, plan, config, config_path.parent))
            print(f"layer warm: {warm[-1]}")
    finally:
        remove_volume(client, plan.volume_name)
    cold_env = statistics.median(r["env"] for r in cold)
    warm_env = statistics.median(r["env"] for r in warm)
    cold_total = statistics.median(r["total"] for r in cold)
    warm_total = statistics.median(r["total"] for r in warm)
    hits = sum(r["hit"] for r in warm)
    spread = f"median of {len(warm)}; cache hit in {hits}/{len(warm)} runs; max {max(r['env'] for r in warm):.3f} s"
    return [
        row(
            "pyenv layer: cold env phase (volume removed; venv + pip install)",
            cold_env,
            detail=f"median of {len(cold)}; output {cold[0]['output']!r}",
        ),
        row(
            "pyenv layer: warm env phase (same job again)",
            warm_env,
            cold_env,
            target=f"< {TARGET_WARM:g} s",
            ok=warm_env < TARGET_WARM and hits == len(warm),
            detail=spread,
        ),
        row("pyenv layer: whole container, cold (create → exit → removed)", cold_total),
        row(
            "pyenv layer: whole container, warm",
            warm_total,
            cold_total,
            detail=f"cold - warm = {cold_total - warm_total:.3f} s",
        ),
    ]


# -- 2. through the job service -------------------------------------------------------------------------------


def run_service(settings: Any, config_path: Path) -> dict[str, Any]:
    from airflow_provider_dsjobs.config import load_config
    from airflow_provider_dsjobs.documents.record import JobStatus
    from airflow_provider_dsjobs.jobs.service import JobService

    service = JobService(settings)
    runtime = service.runtime
    marks: dict[str, float] = {}
    original_create = runtime.create

    def create(spec: Any) -> str:
        created = original_create(spec)
        marks.setdefault("started", time.perf_counter())  # the job's container: the build step comes next
        return created

    runtime.create = create
    lines: list[str] = []

    def sink(stream: str, line: str) -> None:
        lines.append(line)
        if line.strip() == READY and "ready" not in marks:
            marks["ready"] = time.perf_counter()

    began = time.perf_counter()
    try:
        record = service.submit(load_config(config_path))
        record = service.wait(record.id, log=sink)
    finally:
        service.close()
    total = time.perf_counter() - began
    ok = record.status == JobStatus.SUCCESS
    env = marks["ready"] - marks["started"] if ok and "started" in marks and "ready" in marks else None
    return {
        "ok": ok,
        "env": env,
        "total": total,
        "hit": any("environment cache hit" in line for line in lines),
        "why": f"{record.status.value}: {record.status_details or ''} {' | '.join(lines[-2:])}".strip(),
    }


def service_rows(client: Any, work: Path, config_path: Path, warm_runs: int) -> list[dict[str, str]]:
    from airflow_provider_dsjobs.config import load_config
    from airflow_provider_dsjobs.pyenv.plan import plan_python_env
    from airflow_provider_dsjobs.settings import Settings

    settings = Settings(
        store_url=(work / "store").as_uri(),
        project="benchpyenv",
        default_image=IMAGE_TEMPLATE.format(version="3.11"),
        python_image_template=IMAGE_TEMPLATE,
        docker_network="host",
        home=work / "home",
    )
    config = load_config(config_path)
    volume = plan_python_env(
        config, base_dir=config_path.parent, image_template=IMAGE_TEMPLATE, explicit_image=None, project="benchpyenv"
    ).volume_name
    try:
        remove_volume(client, volume)
        cold = run_service(settings, config_path)
        print(f"service cold: {cold}")
        if not cold["ok"]:
            return [
                row("JobService: pyenv job runs (cold)", "job failed", target="SUCCESS", ok=False, detail=cold["why"]),
            ]
        warm = [run_service(settings, config_path) for _ in range(warm_runs)]
        print(f"service warm: {warm}")
    finally:
        remove_volume(client, volume)
    if not all(r["ok"] and r["env"] is not None for r in warm):
        bad = next(r for r in warm if not r["ok"] or r["env"] is None)
        return [row("JobService: pyenv job runs (warm)", "job failed", target="SUCCESS", ok=False, detail=bad["why"])]
    warm_env = statistics.median(r["env"] for r in warm)
    warm_total = statistics.median(r["total"] for r in warm)
    hits = sum(r["hit"] for r in warm)
    return [
        row("JobService: cold env phase (container created → build step → first line of cmd)", cold["env"]),
        row(
            "JobService: warm env phase",
            warm_env,
            cold["env"],
            target=f"< {TARGET_WARM:g} s",
            ok=warm_env < TARGET_WARM and hits == len(warm),
            detail=f"median of {len(warm)}; cache hit in {hits}",
        ),
        row(
            "JobService: job total cold / warm (submit + wait + finalize)",
            warm_total,
            cold["total"],
            detail=f"cold - warm = {cold['total'] - warm_total:.3f} s",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold-runs", type=int, default=2)
    parser.add_argument("--warm-runs", type=int, default=3)
    args = parser.parse_args()
    client = docker.from_env()
    with tempfile.TemporaryDirectory(prefix="bench-pyenv-") as tmp:
        work = Path(tmp)
        with WheelIndex(work / "index") as index:
            config_path = write_job(work / "job", index.url)
            rows = layer_rows(client, config_path, args.cold_runs, args.warm_runs)
            rows += service_rows(client, work, config_path, args.warm_runs)
    client.close()
    path = write_results(
        "pyenv",
        rows,
        title="Python environment of a job: cold vs warm",
        notes=(
            f"Image `{IMAGE_TEMPLATE.format(version='3.11')}`; requirements `benchpkgb==1.0`, `benchpkgc==1.0` (+ "
            "`benchpkga` as a dependency) from a local wheel index (`http.server` on 127.0.0.1, host network). "
            "Layer rows: the env phase is the build step's wall time (a helper container with the volume "
            "read-write; a cold run creates the venv and pip-installs, a warm run has none: `.complete` is found "
            "through the job's container) plus the time between marker lines printed just before and just after "
            "the job's `setup_command` (engine log timestamps; the volume is read-only there). JobService rows: "
            "from the job's container being created to the first line of `cmd` arriving in the log sink."
        ),
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
