"""A job end to end: (a) the overhead of a trivial job over a bare container, (b) peak memory of the submitter.

(a) ``cmd: "true"`` with no inputs, run through ``JobService`` (submit + wait with a log sink + finalize) on the
local-directory store, against ``docker run --rm IMAGE true`` (the bare floor), alternating, median of ``--runs``.
Target: overhead ≤ 0.5 s. Where the job's time goes (plan, stage, record saves, create, deliver, start, wait,
finalize) is measured by wrapping those calls on the service and runtime instances (no product code is changed).
The same job through the CLI in a new process (``python -m airflow_provider_dsjobs.cli.main execute``) is shown
too: that adds interpreter start and imports.

(b) ``python -m airflow_provider_dsjobs.cli.main execute -c CONFIG`` as a child process, its peak RSS from
``wait4``: a job with a large input (``--input-mib``), and a job printing ``--log-mb`` MB of output lines and
writing a ``--output-mib`` output. Target ≤ 200 MB each. The trivial job's RSS is the baseline.

Usage: ``python -m bench.bench_job [--runs 7] [--input-mib 512] [--log-mb 200] [--output-mib 256]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.common import BENCH_LABEL, MiB, row, run_measured, write_random_file, write_results

DEFAULT_IMAGE = os.environ.get("DSJOBS_TEST_IMAGE", "dsjobs-test/python:3.11")
REPO = Path(__file__).resolve().parent.parent
PROJECT = "benchjob"
OVERHEAD_TARGET = 0.5
RSS_TARGET = 200e6


class PhaseClock:
    """Accumulates the wall time spent inside wrapped calls, per phase name."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    def wrap(self, owner: Any, attribute: str, phase: str) -> None:
        original: Callable[..., Any] = getattr(owner, attribute)

        def timed(*args: Any, **kwargs: Any) -> Any:
            name = phase.format(**kwargs)
            started = time.perf_counter()
            try:
                result = original(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - started
            return self._timed_iteration(result, name) if isinstance(result, Iterator) else result

        setattr(owner, attribute, timed)

    def _timed_iteration(self, items: Iterator[Any], name: str) -> Iterator[Any]:
        """A generator's work happens while it is iterated: count that time too."""
        while True:
            started = time.perf_counter()
            try:
                item = next(items)
            except StopIteration:
                self.seconds[name] += time.perf_counter() - started
                return
            self.seconds[name] += time.perf_counter() - started
            yield item


def run_peak_rss(args: list[str], env: dict[str, str], work: Path) -> tuple[int, float, int]:
    """(peak RSS bytes, wall seconds, exit code) of ``args`` (``work`` is kept for the callers' signature)."""
    measured = run_measured(args, env=env, cwd=REPO)
    return measured.peak_rss_bytes, measured.seconds, measured.returncode


def _write_config(directory: Path, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "config.yaml"
    config.write_text(text)
    return config


def run_service_job(config_path: Path, settings: Any) -> tuple[float, dict[str, float]]:
    """One trivial job through a fresh ``JobService``; (total seconds, seconds per phase)."""
    import airflow_provider_dsjobs.jobs.service as service_module
    from airflow_provider_dsjobs.config import load_config
    from airflow_provider_dsjobs.documents.record import JobStatus

    clock = PhaseClock()
    original_plan, original_stage = service_module.plan_job, service_module.stage_inputs
    clock.wrap(service_module, "plan_job", "plan")
    clock.wrap(service_module, "stage_inputs", "stage inputs")
    try:
        started = time.perf_counter()
        config = load_config(config_path)
        clock.seconds["load config"] += time.perf_counter() - started
        service = service_module.JobService(settings)
        for attribute, phase in (("_save", "record saves"), ("finalize", "finalize")):
            clock.wrap(service, attribute, phase)
        connect_started = time.perf_counter()
        runtime = service.runtime
        clock.seconds["connect engine"] += time.perf_counter() - connect_started
        for attribute, phase in (
            ("create", "create container"),
            ("put_archive", "deliver files (put_archive)"),
            ("start", "start container"),
            ("stream_logs", "stream logs (follow={follow})"),
        ):
            clock.wrap(runtime, attribute, phase)
        lines: list[str] = []
        submit_started = time.perf_counter()
        record = service.submit(config)
        clock.seconds["submit (total)"] += time.perf_counter() - submit_started
        wait_started = time.perf_counter()
        record = service.wait(record.id, log=lambda stream, line: lines.append(line))
        clock.seconds["wait + finalize (total)"] += time.perf_counter() - wait_started
        total = time.perf_counter() - started
        service.close()
    finally:
        service_module.plan_job, service_module.stage_inputs = original_plan, original_stage
    if record.status != JobStatus.SUCCESS:
        raise RuntimeError(f"trivial job ended {record.status.value}: {record.status_details}")
    return total, dict(clock.seconds)


def docker_run(image: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        ["docker", "run", "--rm", "--label", f"{BENCH_LABEL}=bench_job", image, "true"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def docker_sdk_run(client: Any, image: str) -> float:
    """The runtime's own floor: create, start, wait, remove through the SDK (no CLI process)."""
    started = time.perf_counter()
    cid = client.api.create_container(image, ["true"], labels={BENCH_LABEL: "bench_job"})["Id"]
    try:
        client.api.start(cid)
        client.api.wait(cid)
    finally:
        client.api.remove_container(cid, force=True)
    return time.perf_counter() - started


def overhead_rows(work: Path, image: str, runs: int, cli_env: dict[str, str]) -> list[dict[str, str]]:
    from airflow_provider_dsjobs.settings import Settings

    config = _write_config(work / "trivial", 'name: trivial\ncmd: "true"\n')
    settings = Settings(store_url=(work / "store").as_uri(), project=PROJECT, default_image=image, home=work / "home")
    import docker

    client = docker.from_env()
    run_service_job(config, settings)  # warm-up: imports, page cache, image layers
    docker_run(image)
    docker_sdk_run(client, image)
    jobs: list[float] = []
    bare: list[float] = []
    sdk: list[float] = []
    phases: dict[str, list[float]] = defaultdict(list)
    for _ in range(runs):
        bare.append(docker_run(image))
        sdk.append(docker_sdk_run(client, image))
        total, seconds = run_service_job(config, settings)
        jobs.append(total)
        for phase, value in seconds.items():
            phases[phase].append(value)
    cli: list[float] = []
    cli_bare: list[float] = []
    cli_args = [sys.executable, "-m", "airflow_provider_dsjobs.cli.main", "execute", "-c", str(config)]
    for _ in range(max(3, runs // 2)):
        cli_bare.append(docker_run(image))
        measured = run_measured(cli_args, env=cli_env, cwd=REPO)
        if measured.returncode != 0:
            raise RuntimeError(f"dsjobs execute of the trivial job exited {measured.returncode}")
        cli.append(measured.seconds)

    job_median, bare_median = statistics.median(jobs), statistics.median(bare)
    overhead = job_median - bare_median
    print(f"trivial job {job_median:.3f} s vs docker run {bare_median:.3f} s: overhead {overhead:.3f} s")
    spread = f"job min/max {min(jobs):.3f}/{max(jobs):.3f} s, docker run min/max {min(bare):.3f}/{max(bare):.3f} s"
    rows = [
        row(
            "trivial job through JobService (submit + wait + finalize), median",
            job_median,
            bare_median,
            target="—",
            detail=f"{runs} runs each, alternating; {spread}",
        ),
        row(
            "overhead over bare `docker run --rm IMAGE true` (difference of medians)",
            overhead,
            bare_median,
            target=f"≤ {OVERHEAD_TARGET} s",
            ok=overhead <= OVERHEAD_TARGET,
            ratio=job_median / bare_median,
        ),
    ]
    sdk_median = statistics.median(sdk)
    rows.append(
        row(
            "overhead over the SDK floor (create, start, wait, remove; difference of medians)",
            job_median - sdk_median,
            sdk_median,
            target=f"≤ {OVERHEAD_TARGET} s (stricter floor)",
            ok=job_median - sdk_median <= OVERHEAD_TARGET,
            ratio=job_median / sdk_median,
            detail="`docker run` pays for the CLI process and attaching; the service talks to the engine directly",
        )
    )
    client.close()
    cli_median, cli_bare_median = statistics.median(cli), statistics.median(cli_bare)
    rows.append(
        row(
            "same job via CLI in a new process (`dsjobs execute`), median",
            cli_median,
            cli_bare_median,
            target="— (info)",
            detail=f"{len(cli)} runs; overhead {cli_median - cli_bare_median:.3f} s incl. "
            "interpreter start and imports",
        )
    )
    order = [
        "load config",
        "connect engine",
        "plan",
        "stage inputs",
        "record saves",
        "create container",
        "deliver files (put_archive)",
        "start container",
        "submit (total)",
        "stream logs (follow=True)",
        "finalize",
        "stream logs (follow=False)",
        "wait + finalize (total)",
    ]
    for phase in order + sorted(set(phases) - set(order)):
        if phase in phases:
            value = statistics.median(phases[phase])
            note = {
                "stream logs (follow=True)": "live output until the container exits (the program's own run time)",
                "stream logs (follow=False)": "finalize re-reads the whole log from the engine (inside finalize)",
            }.get(phase, "")
            rows.append(row(f"phase: {phase} (median)", value, detail=note))
    return rows


def rss_rows(
    work: Path, image: str, cli_env: dict[str, str], input_mib: int, log_mb: int, output_mib: int
) -> list[dict[str, str]]:
    trivial = work / "trivial" / "config.yaml"
    big_dir = work / "big-input"
    write_random_file(big_dir / "big.bin", input_mib * MiB)
    big_input = _write_config(big_dir, "name: big-input\ncmd: wc -c big.bin\ninputs:\n  - big.bin\n")
    line = "x" * 99  # 100 bytes with the newline
    log_lines = log_mb * 1_000_000 // 100
    big_output = _write_config(
        work / "big-output",
        "name: big-output\n"
        "cmd: |\n"
        f"  yes {line} | head -n {log_lines}\n"
        f"  head -c {output_mib * MiB} /dev/urandom > out.bin\n"
        "outputs:\n  - out.bin\n",
    )
    cases = [
        ("trivial job (baseline)", trivial),
        (f"job with a {input_mib} MiB input", big_input),
        (f"job printing {log_mb} MB of output lines and writing a {output_mib} MiB output", big_output),
    ]
    rows = []
    baseline: float | None = None
    target = f"≤ {RSS_TARGET / 1e6:.0f} MB"
    for name, config in cases:
        args = [sys.executable, "-m", "airflow_provider_dsjobs.cli.main", "execute", "-c", str(config)]
        peak, seconds, code = run_peak_rss(args, cli_env, work)
        if code != 0:
            raise RuntimeError(f"dsjobs execute of {name} exited {code}")
        rss = float(peak)
        print(f"{name}: peak RSS {rss / 1e6:.1f} MB in {seconds:.1f} s")
        metric = f"peak RSS of `dsjobs execute`: {name}"
        rows.append(
            row(metric, rss, baseline, unit="MB", target=target, ok=rss <= RSS_TARGET, detail=f"{seconds:.1f} s wall")
        )
        baseline = baseline or rss
    out = work / "big-output" / "out.bin"
    if not out.is_file() or out.stat().st_size != output_mib * MiB:
        raise RuntimeError(f"the big output was not brought back whole to {out}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--image", default=DEFAULT_IMAGE)
    parser.add_argument("--input-mib", type=int, default=512)
    parser.add_argument("--log-mb", type=int, default=200)
    parser.add_argument("--output-mib", type=int, default=256)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-job-") as tmp:
        work = Path(tmp)
        cli_env = {
            **os.environ,
            "DSJOBS_HOME": str(work / "cli-home"),
            "DSJOBS_DEFAULT_IMAGE": args.image,
            "DSJOBS_PROJECT": PROJECT,
            "PYTHONPATH": str(REPO),
        }
        for name in ("DSJOBS_STORE", "DSJOBS_DOCKER_NETWORK"):
            cli_env.pop(name, None)
        rows = overhead_rows(work, args.image, args.runs, cli_env)
        rows += rss_rows(work, args.image, cli_env, args.input_mib, args.log_mb, args.output_mib)
    path = write_results(
        "job",
        rows,
        title="A job end to end: overhead over a bare container, and the submitter's peak memory",
        notes=(
            f"Image `{args.image}`, local-directory store in a temporary `DSJOBS_HOME`. Overhead: one warm-up of "
            f"each, then {args.runs} runs alternating `docker run --rm` and a fresh `JobService` (plan, stage, "
            "record, create, deliver, start, live log stream, finalize: log re-read and stored, manifest, container "
            "removed). Phases are medians of the time spent inside those calls (they overlap the totals; `record "
            "saves` is spread over submit and finalize). Peak RSS: `wait4` of the `dsjobs execute` child "
            "(the container's processes belong to the engine and are not counted); the job's output goes to the "
            "child's stdout, discarded. The machine is shared with other engineers' test runs."
        ),
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
