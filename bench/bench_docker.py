"""Baseline: the cost of a bare container, ``docker run --rm IMAGE true``, with no job machinery around it.

A trivial job run through dsjobs is compared against these numbers: the difference is our overhead (staging,
records, log streaming). Measured two ways: the ``docker`` CLI, and the docker SDK doing what the runtime does
(create, start, wait, remove). Usage: ``python -m bench.bench_docker [--runs N] [--image IMAGE]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess

import docker

from bench.common import BENCH_LABEL, summarize, time_calls, write_results

DEFAULT_IMAGE = os.environ.get("DSJOBS_TEST_IMAGE", "dsjobs-test/python:3.11")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs per variant (after one warm-up)")
    parser.add_argument("--image", default=DEFAULT_IMAGE, help="image to run (default %(default)s)")
    args = parser.parse_args()

    label = f"{BENCH_LABEL}=bench_docker"

    def cli(command: list[str]) -> None:
        subprocess.run(["docker", "run", "--rm", "--label", label, args.image, *command], check=True)

    client = docker.from_env()

    def sdk(command: list[str]) -> None:
        container = client.containers.create(args.image, command, labels={BENCH_LABEL: "bench_docker"})
        try:
            container.start()
            status = container.wait()
            if status["StatusCode"] != 0:
                raise RuntimeError(f"{command} exited with {status['StatusCode']}")
        finally:
            container.remove(force=True)

    variants = [
        ("docker CLI: run --rm", "true", lambda: cli(["true"])),
        ("docker CLI: run --rm", "python3 -c pass", lambda: cli(["python3", "-c", "pass"])),
        ("docker SDK: create, start, wait, remove", "true", lambda: sdk(["true"])),
        ("docker SDK: create, start, wait, remove", "python3 -c pass", lambda: sdk(["python3", "-c", "pass"])),
    ]
    rows = []
    for how, command, func in variants:
        samples = time_calls(func, args.runs)
        rows.append({"how": how, "command": command, **summarize(samples)})
        print(f"{how} {command}: median {rows[-1]['median s']} s")
    client.close()

    path = write_results(
        "docker",
        rows,
        title="Bare container start-to-exit time",
        notes=f"Image `{args.image}`; wall time from the client's call to the container's removal; "
        f"one warm-up run per variant, then {args.runs} timed runs. This is the floor for any job.",
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
