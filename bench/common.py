"""Helpers shared by the benchmarks: machine details, timing and peak memory of child processes, and a
Markdown results writer. Each ``bench/bench_<name>.py`` measures one thing and calls :func:`write_results`."""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

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
