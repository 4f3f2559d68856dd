"""Lazy (s3fs) vs cached S3 mounts: a job that reads ONE object of a larger mount.

A moto server behind the tests' counting proxy (``tests/servers.py``) holds N objects; the job reads one of them
and prints its size. Each row is a whole job through ``JobService`` (submit, wait, finalize; local store) and the
bytes GET from S3 for it: with ``DSJOBS_LAZY_MOUNTS`` on (an s3fs helper serves the mount) and off (the engine
cache: the first run fetches the whole prefix, a later run only lists it). Needs scripts/ensure-lazy-mounts.sh.
Run: ``python -m bench.bench_lazy_mounts [--objects 32 --object-mib 4]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.bench_data_volumes import DEFAULT_IMAGE, _cleanup
from bench.common import MOTO_ENV, MiB, MotoServer, row, write_results

S3FS_IMAGE = os.environ.get("DSJOBS_S3FS_IMAGE", "dsjobs-test/s3fs:1.90")
ROOT = os.environ.get("DSJOBS_LAZY_MOUNT_ROOT", "/var/lib/dsjobs/lazy-mounts")


def _run(service: Any, tmp: Path, config: str) -> tuple[float, list[str]]:
    from airflow_provider_dsjobs.config import load_config

    job_dir = tmp / f"job-{uuid.uuid4().hex[:6]}"
    job_dir.mkdir()
    (job_dir / "config.yaml").write_text(config)
    out: list[str] = []
    started = time.perf_counter()
    record = service.submit(load_config(job_dir / "config.yaml"), notify=lambda _m: None)
    done = service.wait(record.id, log=lambda _s, line: out.append(line))
    took = time.perf_counter() - started
    if done.status.value != "SUCCESS":
        raise RuntimeError(f"job {done.id} ended {done.status.value}: {done.status_details}")
    return took, out


def bench(tmp: Path, objects: int, object_mib: int) -> list[dict[str, str]]:
    from airflow_provider_dsjobs.jobs.service import JobService
    from airflow_provider_dsjobs.settings import Settings
    from tests.servers import counting_s3_proxy

    project = f"benchlz{uuid.uuid4().hex[:6]}"
    size = object_mib * MiB
    rows = []
    with MotoServer() as moto, counting_s3_proxy(moto.endpoint) as proxy:
        os.environ.update(MOTO_ENV, DSJOBS_S3_ENDPOINT_URL=proxy.endpoint)
        bucket = moto.new_bucket()
        client = moto.client()
        body = os.urandom(size)
        for i in range(objects):
            client.put_object(Bucket=bucket, Key=f"m/obj-{i:04d}.bin", Body=body[i:] + body[:i])
        os.environ["DSJOBS_S3_MOUNT_DATA"] = f"s3://{bucket}/m"
        os.environ["DSJOBS_S3_MOUNT_DATA_MODE"] = "lazy"
        base = Settings(
            store_url=(tmp / "store").as_uri(), project=project, default_image=DEFAULT_IMAGE, home=tmp / "home",
            docker_network="host", s3fs_image=S3FS_IMAGE, lazy_mount_root=ROOT,
        )  # fmt: skip
        config = f"cmd: cat ${{M}}/obj-{objects // 2:04d}.bin | wc -c\ns3-mounts:\n  - data: M\n"
        try:
            for label, lazy in (("lazy", True), ("cache", False)):
                service = JobService(dataclasses.replace(base, lazy_mounts=lazy))
                for run in ("first", "second"):
                    proxy.gets.clear()
                    took, out = _run(service, tmp, config)
                    assert out == [str(size)], out
                    fetched = sum(proxy.bytes_by_key(bucket).values())
                    rows.append(
                        row(
                            f"{label}, {run} run: job reading 1 of {objects} x {object_mib} MiB",
                            took,
                            detail=f"GET {fetched:,} B of {objects * size:,} B",
                        )
                    )
                    if label == "lazy":
                        rows.append(
                            row(
                                f"lazy, {run} run: bytes GET",
                                fetched,
                                size,
                                unit="B",
                                target="<= 1.1 x the object read",
                                ok=fetched <= 1.1 * size,
                            )
                        )
        finally:
            _cleanup(project)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=32)
    parser.add_argument("--object-mib", type=int, default=4)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="dsjobs-bench-lazy-") as tmp:
        rows = bench(Path(tmp), args.objects, args.object_mib)
    notes = (
        f"Image `{DEFAULT_IMAGE}`, s3fs image `{S3FS_IMAGE}`; moto on 127.0.0.1 behind a counting proxy. "
        "Times are a whole job (submit, wait, finalize; local store) that reads every byte of one object "
        "(`cat | wc -c`; `wc -c <` alone would read 4 KiB: wc seeks); "
        "the lazy rows include starting the s3fs helper and waiting for its mount."
    )
    path = write_results("lazy_mounts", rows, title="Lazy (s3fs) vs cached S3 mounts", notes=notes)
    print(path.read_text())
    return 0 if all(r["result"] != "**FAIL**" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
