"""Start-up of ``dsjobs --help`` and ``dsjobs validate`` against ``python -c pass``, in new processes, same run.

Each round runs every command once, in turn (so a busy neighbour slows all of them alike); the table gives the
median and min of N rounds after one warm-up round. The processes run as an installed package would: bytecode is
cached (``PYTHONPYCACHEPREFIX`` in a temp dir, ``PYTHONDONTWRITEBYTECODE`` unset) — without it every start
recompiles the package. ``--before REF`` also measures the package as it was at git commit REF (exported with
``git archive`` to a temp dir), in the same rounds.

Usage: ``python -m bench.bench_cli_start [--runs N] [--before REF]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.common import row, write_results
from tests.config.helpers import make_job_dir, write_fixture

REPO = Path(__file__).resolve().parents[1]
#: The target of issue 23: ``dsjobs --help`` and ``dsjobs validate`` start in under this many seconds.
TARGET_S = 0.15


def _env(package_root: Path, pycache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(package_root)
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def _run(argv: Sequence[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{list(argv)} exited {proc.returncode}: {proc.stderr.decode()[-500:]}")
    return seconds


def _export(ref: str, target: Path) -> Path:
    """The repository at ``ref``, exported (``git archive``) into ``target``."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", ref], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21, help="rounds (after one warm-up round)")
    parser.add_argument("--before", metavar="REF", help="also measure the package at this git commit")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-cli-start-"))
    try:
        config = write_fixture(make_job_dir(work / "job"), "seed000_full.yaml")
        python = sys.executable
        cli = [python, "-m", "airflow_provider_dsjobs.cli"]
        now = _env(REPO, work / "pycache")
        cases: dict[str, tuple[list[str], dict[str, str]]] = {
            "python -c pass": ([python, "-c", "pass"], now),
            "dsjobs --help": ([*cli, "--help"], now),
            "dsjobs validate config.yaml": ([*cli, "validate", str(config)], now),
        }
        if args.before:
            old = _env(_export(args.before, Path(tempfile.mkdtemp(dir=work))), work / "pycache-before")
            cases[f"dsjobs --help at {args.before}"] = ([*cli, "--help"], old)
            cases[f"dsjobs validate config.yaml at {args.before}"] = ([*cli, "validate", str(config)], old)
        samples: dict[str, list[float]] = {name: [] for name in cases}
        for round_ in range(args.runs + 1):
            for name, (argv, env) in cases.items():
                seconds = _run(argv, env, work)
                if round_:
                    samples[name].append(seconds)
        floor = statistics.median(samples["python -c pass"])
        rows = []
        for name, values in samples.items():
            median = statistics.median(values)
            ours = name.startswith("dsjobs") and " at " not in name
            rows.append(
                row(
                    name,
                    median,
                    None if name == "python -c pass" else floor,
                    target=f"< {TARGET_S} s" if ours else "",
                    ok=median < TARGET_S if ours else None,
                    detail=f"min {min(values):.3f} s, max {max(values):.3f} s; "
                    f"{median - floor:.3f} s above python -c pass",
                )
            )
            print(f"{name}: median {median:.3f} s (min {min(values):.3f} s)")
        path = write_results(
            "cli_start",
            rows,
            title="CLI start-up: dsjobs --help and dsjobs validate",
            notes=f"Wall time of a new process, median of {args.runs} rounds after a warm-up round; each round runs "
            "every command in turn. Bytecode cached as in an installed package. `validate` checks "
            "`tests/config/fixtures/seed000_full.yaml`. Baseline: `python -c pass` in the same rounds (ratio = "
            "value / baseline)." + (f" Rows `at {args.before}`: the package before issue 23." if args.before else ""),
        )
        print(f"wrote {path}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
