"""The first staging of a large local input (nothing cached) against ``cp`` of the same file, in the same rounds:
what hashing every byte costs now that new blobs are named by BLAKE3 (``storage/digests.py``), and, with
``--before REF``, what it cost with SHA-256 (the package at git commit REF, exported with ``git archive``).

Each first run is a new process staging the file into a fresh local store with a cold hash memo (run from the
package's own tree), with fsync off (``DSJOBS_LOCAL_FSYNC=0``):
like ``cp``, not crash-durable, so the comparison is of the copying and hashing alone (``bench_staging.py`` also
compares durable runs with ``cp`` + ``sync``). Every run starts on a settled filesystem and is cleaned up after;
the runs of a round take turns at going first. Target (issue 25): first run ≥ 80 % of cp's throughput.

Usage: ``python -m bench.bench_first_run [--size-mib 1024] [--rounds 5] [--before REF]``.
"""

from __future__ import annotations

import argparse
import json
import mmap
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from bench.bench_staging import _remove, _settle, _timed, _vs_cp
from bench.common import MiB, write_random_file, write_results

REPO = Path(__file__).resolve().parents[1]


#: The staging child: stages the file into a fresh local store (fsync off) with a cold in-memory hash memo and
#: prints the wall and CPU seconds of ``stage_all`` (the same API in the package before and after BLAKE3).
_CHILD = """
import json, resource, sys, time
from pathlib import Path
from airflow_provider_dsjobs.storage.cas import InputStager
from airflow_provider_dsjobs.storage.hashing import HashMemo
from airflow_provider_dsjobs.storage.local import LocalStore

path, root = sys.argv[1], sys.argv[2]
stager = InputStager(LocalStore(Path(root), fsync=False), "bench", memo=HashMemo())
before, started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
stager.stage_all([Path(path)])
seconds, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF)
cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
print(json.dumps({"seconds": seconds, "cpu": cpu, "uploaded": stager.stats.bytes_uploaded}))
"""


def _first_run(tree: Path, path: Path, work: Path) -> tuple[float, float]:
    """``(wall, CPU)`` seconds of ``InputStager.stage_all`` in a new process of the package in ``tree`` (fresh
    store, cold hash memo, fsync off), from a settled filesystem; the store is removed after."""
    _settle()
    store = work / f"store-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "PYTHONPATH": str(tree)}
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), str(store)], cwd=tree, env=env, check=True, capture_output=True
    )
    result = json.loads(proc.stdout)
    if result["uploaded"] != path.stat().st_size:
        raise RuntimeError(f"the first run uploaded {result['uploaded']} B, not the whole input")
    _remove(store)
    return float(result["seconds"]), float(result["cpu"])


def _cp(path: Path, dest: Path) -> tuple[float, float]:
    """``(wall, CPU)`` seconds of ``cp`` of the file, from a settled filesystem; the copy is removed after."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    seconds = _timed(dest, ["cp", str(path), str(dest)])
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return seconds, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def _export(ref: str, target: Path) -> Path:
    archive = subprocess.run(["git", "-C", str(REPO), "archive", ref], capture_output=True, check=True).stdout
    target.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def _hash_alone(path: Path, algorithm: str) -> float:
    """The best of two passes of ``algorithm`` over the file through ``mmap`` (no copy into Python)."""
    import hashlib

    import blake3

    best = float("inf")
    for _ in range(2):
        started = time.perf_counter()
        digest = hashlib.sha256() if algorithm == "sha256" else blake3.blake3(max_threads=blake3.blake3.AUTO)
        with (
            open(path, "rb") as fh,
            mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as pages,
            memoryview(pages) as view,
        ):
            digest.update(view)
        digest.hexdigest()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="input size")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of cp and first runs")
    parser.add_argument("--before", metavar="REF", help="also stage with the package at this git commit")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-first-run-") as tmp:
        work = Path(tmp)
        big = write_random_file(work / "input" / "big.bin", args.size_mib * MiB)
        dest = work / "cp-copy"
        runs: dict[str, Callable[[], tuple[float, float]]] = {
            "cp": lambda: _cp(big, dest),
            "first run (BLAKE3)": lambda: _first_run(REPO, big, work),
        }
        if args.before:
            old = _export(args.before, work / "before")
            runs[f"first run at {args.before} (SHA-256)"] = lambda: _first_run(old, big, work)
        samples: dict[str, list[float]] = {name: [] for name in runs}
        cpu: dict[str, list[float]] = {name: [] for name in runs}
        order = list(runs)
        for i in range(args.rounds):
            for name in order[i % len(order) :] + order[: i % len(order)]:
                seconds, cpu_seconds = runs[name]()
                samples[name].append(seconds)
                cpu[name].append(cpu_seconds)
            print({name: f"{values[-1]:.3f} s" for name, values in samples.items()})
        cp = samples["cp"]
        cp_s = statistics.median(cp)
        rows = []
        for name, values in samples.items():
            if name == "cp":
                continue
            paired = statistics.median(c / r for c, r in zip(cp, values, strict=True))
            ours = " at " not in name
            rows.append(
                _vs_cp(
                    f"1 file of {args.size_mib} MiB, local store: {name} vs cp (throughput ratio)",
                    statistics.median(values),
                    cp_s,
                    target="≥ 80 % of cp" if ours else "",
                    ok=cp_s >= 0.8 * statistics.median(values) if ours else None,
                    detail=f"{args.rounds} rounds, medians (value: first run, baseline: cp); per-round ratio median "
                    f"{paired:.2f}, best {max(c / r for c, r in zip(cp, values, strict=True)):.2f}; runs "
                    f"{', '.join(f'{v:.2f}' for v in values)} s; CPU time median {statistics.median(cpu[name]):.2f} s "
                    f"(cp: {statistics.median(cpu['cp']):.2f} s)",
                )
            )
        for algorithm, label in (("sha256", "SHA-256, one core"), ("blake3", "BLAKE3, every core")):
            rows.append(
                _vs_cp(
                    f"1 file of {args.size_mib} MiB: {label}, alone, through mmap, vs cp",
                    _hash_alone(big, algorithm),
                    cp_s,
                    detail="information: the most a stager that hashes every byte with it can reach",
                )
            )
        shutil.rmtree(work / "input")
    path = write_results(
        "first_run",
        rows,
        title="First staging of a large local input vs cp: BLAKE3 content ids (store format 2) and SHA-256",
        notes="Each first run is a new process staging the file into a fresh local store with a cold hash memo and "
        "fsync off (like cp: not crash-durable), the time measured around `InputStager.stage_all`; the kernel "
        "copies the file (copy_file_range, like cp) while a thread hashes the copy's pages right behind it. `cp` "
        "copies the same file on the same filesystem. The runs of a round take turns at going first, each from a "
        "settled filesystem, cleaned up after. The ratio is a throughput ratio (cp's time over the run's). CPU time: "
        "user + system of the staging call (all its threads) and of cp: the first run does cp's work plus hashing, "
        "so on cores busy with other work its wall time grows by more than cp's."
        + (f" `at {args.before}`: the package before BLAKE3 (SHA-256 blobs), same rounds." if args.before else "")
        + f" Load average (1 min) {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end (2 cores "
        "shared with other sessions): rely on the same-run ratios.",
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
