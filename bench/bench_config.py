"""Validation cost of hostile or huge config files, as a ratio to a real one measured in the same run.

Every file under the size cap must be accepted or rejected in well under a second with bounded memory. The
baseline is the largest seed example (``tests/config/fixtures``); the others are the shapes that once took from
20 s to minutes: thousands of ``inputs:`` entries, a 1 MiB flow list, a 1 MiB scalar, a list just under the value
cap. Usage: ``python -m bench.bench_config [--runs N]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import tracemalloc
from pathlib import Path

from airflow_provider_dsjobs.config import ConfigError, load_config_text
from bench.common import time_calls, write_results
from tests.config.helpers import make_job_dir

SEED = Path(__file__).resolve().parents[1] / "tests" / "config" / "fixtures" / "seed000_full.yaml"


def cases(base: Path) -> dict[str, str]:
    return {
        "seed000_full.yaml (baseline)": SEED.read_text(encoding="utf-8").replace("@DIR@", str(base)),
        "5000 inputs, nested paths": "cmd: x\ninputs:\n" + "".join(f"  - {'d/' * (i % 40)}f{i}\n" for i in range(5000)),
        "1 MiB flow list": "cmd: x\nargs: [" + ",".join(["1"] * 340_000) + "]\n",
        "1 MiB scalar": "cmd: echo " + "x" * ((1 << 20) - 20) + "\n",
        "1 990 env var names (just under the value cap)": "cmd: x\nenv:\n  vars:\n"
        + "".join(f"    - V{i}\n" for i in range(1990)),
        "1 990 args": "cmd: x\nargs:\n" + "".join(f"  a{i}: x\n" for i in range(995)),
    }


def _load(text: str, base: Path) -> str:
    try:
        load_config_text(text, base_dir=base)
    except ConfigError as exc:
        return "rejected: " + exc.problems[0].message[:60]
    return "accepted"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per file (after one warm-up)")
    args = parser.parse_args()
    base = make_job_dir(Path(tempfile.mkdtemp(prefix="bench-config-")))
    rows = []
    baseline = None
    for name, text in cases(base).items():
        median = statistics.median(time_calls(lambda text=text: _load(text, base), args.runs))  # type: ignore[misc]
        tracemalloc.start()
        outcome = _load(text, base)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        baseline = baseline or median
        rows.append(
            {
                "file": name,
                "size KiB": f"{len(text) / 1024:.0f}",
                "outcome": outcome,
                "median s": f"{median:.3f}",
                "x baseline": f"{median / baseline:.1f}",
                "peak MB (Python heap)": f"{peak / 1e6:.1f}",
            }
        )
        print(f"{name}: {median:.3f} s, {outcome}")
    path = write_results(
        "config",
        rows,
        title="Validation cost of huge and hostile config files",
        notes=f"`load_config_text` in this process, median of {args.runs} runs after one warm-up; peak is "
        "tracemalloc's (Python allocations only). Before issue 14 the 5000-input file took minutes and the flow "
        "list 20 s and 350 MB. Target: every file well under a second.",
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
