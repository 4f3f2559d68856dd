"""Helpers shared by the benchmarks: machine details, timing and peak memory of child processes, and a
Markdown results writer, a results row, a moto S3 server and a random input file. Each ``bench/bench_<name>.py``
measures one thing and calls :func:`write_results`."""

from __future__ import annotations

import datetime
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
#: Label put on every container a benchmark creates, so that it can be found and cleaned up.
BENCH_LABEL = "org.dsjobs.bench"


def _read_field(path: str, key: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                name, sep, value = line.partition(":")
                if sep and name.strip() == key:
                    return value.strip()
    except OSError:
        pass
    return None


def _command_output(args: Sequence[str]) -> str | None:
    try:
        result = subprocess.run(args, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:
        return None
    return result.stdout.strip() or None


def machine_info() -> dict[str, str]:
    """What a reader needs to compare results: CPU, cores, memory, OS, Python, Docker engine, date (UTC)."""
    mem_kib = _read_field("/proc/meminfo", "MemTotal")
    memory = f"{int(mem_kib.split()[0]) / 2**20:.1f} GiB" if mem_kib else "unknown"
    return {
        "cpu": _read_field("/proc/cpuinfo", "model name") or platform.processor() or "unknown",
        "cores": str(os.cpu_count() or "unknown"),
        "memory": memory,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "docker": _command_output(["docker", "version", "--format", "{{.Server.Version}}"]) or "unavailable",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


@dataclass(frozen=True)
class Measurement:
    """One run of a child process."""

    seconds: float
    #: Peak resident set size of the child (and of the descendants it waited for), in bytes.
    peak_rss_bytes: int
    returncode: int


#: Runs ARGV as its child and prints "<peak RSS KiB> <wall seconds> <exit code>". The measured process forks from
#: this small interpreter, not from the caller: Linux carries ``ru_maxrss`` across ``exec``, so a child forked straight
#: from a large parent (a benchmark or pytest with Airflow loaded) reports at least the parent's resident size.
_LAUNCHER = """
import os, sys, time
argv = sys.argv[1:]
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    fd = os.open(os.devnull, os.O_RDWR)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    try:
        os.execvp(argv[0], argv)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
print(usage.ru_maxrss, time.perf_counter() - started, os.waitstatus_to_exitcode(status))
"""


def run_measured(args: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Measurement:
    """Run ``args`` to completion, output discarded; return its wall time and peak RSS.

    A small launcher forks and execs ``args`` and reads ``wait4`` of that one child (Linux reports ``ru_maxrss`` in
    KiB), so neither this process's size nor other children are mixed in, and the wall time excludes the launcher's
    own start. A container's processes are children of the engine, not of ``docker run``: measure them with the
    engine's own statistics instead.
    """
    proc = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, *args],
        env=dict(env) if env is not None else None,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        check=False,
    )
    try:
        rss_kib, seconds, code = proc.stdout.split()
    except ValueError:
        raise RuntimeError(f"could not measure {list(args)!r}: the launcher exited with {proc.returncode}") from None
    return Measurement(seconds=float(seconds), peak_rss_bytes=int(rss_kib) * 1024, returncode=int(code))


def time_calls(func: Callable[[], object], runs: int, *, warmup: int = 1) -> list[float]:
    """Wall time of ``runs`` calls of ``func``, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        func()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        func()
        samples.append(time.perf_counter() - started)
    return samples


def summarize(samples: Sequence[float]) -> dict[str, str]:
    """Median, min and max of timings in seconds, formatted for a results table."""
    return {
        "runs": str(len(samples)),
        "median s": f"{statistics.median(samples):.3f}",
        "min s": f"{min(samples):.3f}",
        "max s": f"{max(samples):.3f}",
    }


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def write_results(
    path: str | Path,
    rows: Sequence[Mapping[str, object]],
    *,
    title: str | None = None,
    notes: str | None = None,
) -> Path:
    """Write ``rows`` as a Markdown table under a header with the machine's details; return the file.

    ``path`` relative (e.g. ``"docker"``) means ``bench/results/<path>.md``. Columns are the keys of the first
    row, in order; every row must have the same keys. The file is replaced atomically.
    """
    if not rows:
        raise ValueError("no rows to write")
    target = Path(path)
    if not target.is_absolute():
        target = RESULTS_DIR / target
    if target.suffix != ".md":
        target = target.with_name(target.name + ".md")
    columns = list(rows[0])
    for row in rows:
        if list(row) != columns:
            raise ValueError(f"row columns {list(row)} differ from {columns}")

    lines = [f"# {title or target.stem}", ""]
    lines += [f"- {key}: {value}" for key, value in machine_info().items()]
    lines.append("")
    if notes:
        lines += [notes.strip(), ""]
    lines.append("| " + " | ".join(_cell(c) for c in columns) + " |")
    lines.append("|" + "---|" * len(columns))
    lines += ["| " + " | ".join(_cell(row[c]) for c in columns) + " |" for row in rows]

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(target)
    return target


MiB = 1024 * 1024
#: Fake credentials for the moto server (it accepts any).
MOTO_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def row(
    metric: str,
    value: float | str,
    baseline: float | str | None = None,
    *,
    unit: str = "s",
    target: str = "",
    ok: bool | None = None,
    ratio: float | None = None,
    detail: str = "",
) -> dict[str, str]:
    """One line of a results table: metric, value, baseline, ratio (value / baseline), target, pass/fail, and a
    free-text detail (spread of the runs, the reason for a failure)."""

    def fmt(v: float | str | None) -> str:
        if v is None:
            return "—"
        if isinstance(v, str):
            return v
        if unit == "B":
            return f"{int(v):,} B"
        if unit == "MB":
            return f"{v / 1e6:.1f} MB"
        if unit == "MB/s":
            return f"{v:.1f} MB/s"
        return f"{v:.3f} {unit}"

    if ratio is None and isinstance(value, (int, float)) and isinstance(baseline, (int, float)) and baseline:
        ratio = value / baseline
    return {
        "metric": metric,
        "value": fmt(value),
        "baseline": fmt(baseline),
        "ratio": "—" if ratio is None else f"{ratio:.3f}",
        "target": target or "—",
        "result": "—" if ok is None else ("pass" if ok else "**FAIL**"),
        "detail": detail,
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MotoServer:
    """A moto S3 server process on 127.0.0.1 (``with MotoServer() as moto: moto.endpoint``)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in __exit__

    def __enter__(self) -> MotoServer:
        exe = shutil.which("moto_server") or str(Path(sys.executable).with_name("moto_server"))
        self._proc = subprocess.Popen(
            [exe, "-H", "127.0.0.1", "-p", str(self.port)], stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                break
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.2)
        self.__exit__()
        raise RuntimeError("moto_server did not start (is moto[server] installed?)")

    def client(self, config: Any = None) -> Any:
        """A plain boto3 client of the server (boto3's defaults unless a botocore ``Config`` is given)."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=config,
        )

    def new_bucket(self) -> str:
        bucket = f"bench-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=bucket)
        return bucket

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._log.close()


def write_random_file(path: Path, size: int, *, age_seconds: float = 3600) -> Path:
    """``size`` bytes of random data, its mtime set ``age_seconds`` in the past (an input that is not being
    written: the hash memo refuses files modified in the last 2 seconds)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    chunk = 16 * MiB
    with open(path, "wb") as fh:
        left = size
        while left > 0:
            n = min(chunk, left)
            fh.write(os.urandom(n))
            left -= n
    past = time.time() - age_seconds
    os.utime(path, (past, past))
    return path
