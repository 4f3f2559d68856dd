"""Throughput of our transfers against raw floors measured in the same run, on the same data.

* S3 upload: ``S3Store.put_file`` (and ``InputStager`` first run: hash + upload) vs boto3 ``upload_file`` with the
  default ``TransferConfig``, on a moto server started on 127.0.0.1;
* S3 download: ``S3Store.get_file`` vs boto3 ``download_file`` (default ``TransferConfig``);
* container delivery: ``Runtime.put_archive`` of the lazy ``tar_stream`` vs the docker SDK's ``put_archive`` of a
  pre-built tar file;
* container export: ``Runtime.export`` read member by member through ``open_tar`` vs the SDK's ``get_archive``
  chunks, both read to the end and discarded;
* log read: ``Runtime.stream_logs(follow=False)`` (what finalize does) vs the SDK's ``logs(stream=True)`` frames, on
  a finished container that printed ``--log-mb`` MB of 100-byte lines.

Median of ``--runs`` (5; S3 9) runs of each, alternating ours and raw. Target (issue): ours ≥ 80 % of the raw floor.
Containers are created (never started) from the test image, labelled ``dsjobs.test=bench``, and removed.
Usage: ``python -m bench.bench_throughput [--s3-size-mib 256] [--docker-size-mib 256] [--runs 3]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tarfile
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker

from bench.common import BENCH_LABEL, MOTO_ENV, MiB, MotoServer, row, write_random_file, write_results

DEFAULT_IMAGE = os.environ.get("DSJOBS_TEST_IMAGE", "dsjobs-test/python:3.11")
LABELS = {"dsjobs.test": "bench", BENCH_LABEL: "bench_throughput"}
TARGET = 0.80
#: Issue 16: uploads (and the stager's first run) at ≥ 90 % of raw boto3 on the same data in the same round.
UPLOAD_TARGET = 0.90


def _timed(func: Callable[[], object]) -> float:
    started = time.perf_counter()
    func()
    return time.perf_counter() - started


def _compare(
    name: str, size: int, ours: Callable[[int], object], raw: Callable[[int], object], runs: int, note: str = ""
) -> dict[str, str]:
    """Alternate ``ours(i)`` and ``raw(i)`` ``runs`` times; a row of median throughputs (MB/s)."""
    ours_s: list[float] = []
    raw_s: list[float] = []
    for i in range(runs):
        raw_s.append(_timed(lambda i=i: raw(i)))  # type: ignore[misc]
        ours_s.append(_timed(lambda i=i: ours(i)))  # type: ignore[misc]
    ours_rate = size / statistics.median(ours_s) / 1e6
    raw_rate = size / statistics.median(raw_s) / 1e6
    best_ours, best_raw = size / min(ours_s) / 1e6, size / min(raw_s) / 1e6
    print(f"{name}: ours {ours_rate:.1f} MB/s {ours_s}, raw {raw_rate:.1f} MB/s {raw_s}")
    detail = (
        f"median of {runs}; best run: ours {best_ours:.1f} vs raw {best_raw:.1f} MB/s "
        f"(ratio {best_ours / best_raw:.2f}){note}"
    )
    return row(
        name, ours_rate, raw_rate, unit="MB/s", target="≥ 80 % of raw", ok=ours_rate >= TARGET * raw_rate, detail=detail
    )


def _alternate(variants: dict[str, Callable[[int], object]], runs: int) -> dict[str, list[float]]:
    """Seconds of each variant over ``runs`` rounds; each round runs every variant once, in turn."""
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    for i in range(runs):
        for name, func in variants.items():
            seconds[name].append(_timed(lambda func=func, i=i: func(i)))  # type: ignore[misc]
    return seconds


def _ratio_row(
    name: str, size: int, ours: list[float], raw: list[float], *, target: float, note: str = ""
) -> dict[str, str]:
    """A row of median throughputs of ``ours`` vs ``raw`` (seconds of the same rounds), judged on ``target``."""
    ours_rate, raw_rate = size / statistics.median(ours) / 1e6, size / statistics.median(raw) / 1e6
    paired = statistics.median(r / o for o, r in zip(ours, raw, strict=True))
    print(f"{name}: ours {ours_rate:.1f} MB/s {ours}, raw {raw_rate:.1f} MB/s {raw}")
    detail = f"median of {len(ours)} rounds; median of the per-round ratios {paired:.2f}{note}"
    return row(
        name,
        ours_rate,
        raw_rate,
        unit="MB/s",
        target=f"≥ {target:.0%} of raw".replace("%", " %"),
        ok=ours_rate >= target * raw_rate,
        detail=detail,
    )


def upload_rows(moto: MotoServer, bucket: str, path: Path, runs: int) -> list[dict[str, str]]:
    """S3 uploads, all variants alternating in each round: ``S3Store.put_file`` and the first-run stager vs raw
    boto3 ``upload_file`` with the same checksum mode (boto3's default ``when_supported``, and our default
    ``when_required``), and what ``when_required`` itself costs against moto (raw vs raw)."""
    from boto3.s3.transfer import TransferConfig
    from botocore.config import Config

    from airflow_provider_dsjobs.storage.cas import InputStager, blob_key
    from airflow_provider_dsjobs.storage.s3 import S3Store

    size = path.stat().st_size
    client = moto.client()
    required = Config(request_checksum_calculation="when_required", response_checksum_validation="when_required")
    raw_required = moto.client(config=required)
    default = TransferConfig()
    supported = S3Store(bucket, "bench", endpoint_url=moto.endpoint, region="us-east-1", checksums="when_supported")
    ours_default = S3Store(bucket, "bench", endpoint_url=moto.endpoint, region="us-east-1")
    # One store per stager run (each stages into its own prefix, so nothing is cached), made before the clock runs.
    stage_stores = [
        S3Store(bucket, f"stage-{i}", endpoint_url=moto.endpoint, region="us-east-1", checksums="when_supported")
        for i in range(runs)
    ]

    def raw(c: Any) -> Callable[[int], None]:
        def upload(i: int) -> None:
            c.upload_file(str(path), bucket, f"raw-{i}", Config=default)
            client.delete_object(Bucket=bucket, Key=f"raw-{i}")  # moto keeps objects in memory: one at a time

        return upload

    def ours(store: Any) -> Callable[[int], None]:
        def upload(i: int) -> None:
            store.put_file(f"up/ours-{i}", path)
            client.delete_object(Bucket=bucket, Key=f"bench/up/ours-{i}")

        return upload

    def stage(i: int) -> None:
        staged = InputStager(stage_stores[i], "bench", memo=None).stage(path)
        client.delete_object(Bucket=bucket, Key=f"stage-{i}/{blob_key('bench', staged.sha256)}")

    s = _alternate(
        {
            "raw": raw(client),
            "ours": ours(supported),
            "stage": stage,
            "raw_required": raw(raw_required),
            "ours_required": ours(ours_default),
        },
        runs,
    )
    mib = size // MiB
    return [
        _ratio_row(
            f"S3 upload {mib} MiB: S3Store.put_file vs boto3 upload_file (both when_supported)",
            size,
            s["ours"],
            s["raw"],
            target=UPLOAD_TARGET,
        ),
        _ratio_row(
            f"S3 upload {mib} MiB: InputStager first run (hash + upload, when_supported) vs boto3 upload_file",
            size,
            s["stage"],
            s["raw"],
            target=UPLOAD_TARGET,
        ),
        _ratio_row(
            f"S3 upload {mib} MiB: S3Store.put_file vs boto3 upload_file (both when_required, our default)",
            size,
            s["ours_required"],
            s["raw_required"],
            target=UPLOAD_TARGET,
        ),
        row(
            f"S3 upload {mib} MiB: boto3 upload_file when_required vs when_supported (the cost of that setting)",
            size / statistics.median(s["raw_required"]) / 1e6,
            size / statistics.median(s["raw"]) / 1e6,
            unit="MB/s",
            detail="information: moto computes a full-object CRC64NVME itself when the client sends no checksum",
        ),
    ]


def s3_rows(path: Path, runs: int) -> list[dict[str, str]]:
    """S3 rows; moto on a shared 2-core machine is noisy, so these take ``runs`` + 4 runs."""
    from boto3.s3.transfer import TransferConfig

    from airflow_provider_dsjobs.storage.s3 import S3Store

    size = path.stat().st_size
    rows = []
    runs += 4
    os.environ.update(MOTO_ENV)
    with MotoServer() as moto:
        bucket = moto.new_bucket()
        client = moto.client()
        store = S3Store(bucket, "bench", endpoint_url=moto.endpoint, region="us-east-1")
        default = TransferConfig()
        rows += upload_rows(moto, bucket, path, runs)

        def drop(key: str) -> None:
            client.delete_object(Bucket=bucket, Key=key)  # moto keeps objects in memory: keep one at a time

        client.upload_file(str(path), bucket, "bench/down/object", Config=default)
        with tempfile.TemporaryDirectory(prefix="bench-dl-", dir=path.parent) as tmp:
            target = Path(tmp) / "out.bin"

            def ours_down(i: int) -> None:
                store.get_file("down/object", target)
                target.unlink()

            def raw_down(i: int) -> None:
                client.download_file(bucket, "bench/down/object", str(target), Config=default)
                target.unlink()

            rows.append(
                _compare(
                    f"S3 download {size // MiB} MiB: S3Store.get_file vs boto3 download_file",
                    size,
                    ours_down,
                    raw_down,
                    runs,
                )
            )

            def ours_stream(i: int) -> None:
                with store.open_read("down/object") as fh:
                    while fh.read(MiB):
                        pass

            def raw_stream(i: int) -> None:
                body = client.get_object(Bucket=bucket, Key="bench/down/object")["Body"]
                for _ in body.iter_chunks(MiB):
                    pass

            rows.append(
                _compare(
                    f"S3 stream read {size // MiB} MiB: S3Store.open_read vs boto3 get_object body",
                    size,
                    ours_stream,
                    raw_stream,
                    runs,
                )
            )
        drop("bench/down/object")
    return rows


def docker_rows(path: Path, image: str, runs: int, log_mb: int) -> list[dict[str, str]]:
    from airflow_provider_dsjobs.runtime.containers import RAW_STREAM_HEADERS, Runtime
    from airflow_provider_dsjobs.runtime.engine import connect_engine
    from airflow_provider_dsjobs.runtime.tarstream import TarFile, tar_stream
    from airflow_provider_dsjobs.settings import Settings

    size = path.stat().st_size
    client = docker.from_env(timeout=600)
    engine = connect_engine(Settings())
    runtime = Runtime(engine)
    prebuilt = path.with_suffix(".tar")
    with tarfile.open(prebuilt, "w", format=tarfile.PAX_FORMAT) as tar:
        tar.add(path, arcname="bench/big.bin")
    created: list[str] = []

    def container() -> str:
        name = f"bench-{uuid.uuid4().hex[:10]}"
        cid = str(client.api.create_container(image, ["true"], labels=LABELS, name=name)["Id"])
        created.append(cid)
        return cid

    def opener() -> Any:
        return open(path, "rb")

    rows = []
    try:
        ours_ids = [container() for _ in range(runs)]
        raw_ids = [container() for _ in range(runs)]

        def ours_put(i: int) -> None:
            runtime.put_archive(ours_ids[i], "/", tar_stream([TarFile("bench/big.bin", size, opener)]))

        def raw_put(i: int) -> None:
            with open(prebuilt, "rb") as fh:
                client.api.put_archive(raw_ids[i], "/", fh)

        rows.append(
            _compare(
                f"container delivery {size // MiB} MiB: Runtime.put_archive(tar_stream) vs SDK put_archive(tar file)",
                size,
                ours_put,
                raw_put,
                runs,
            )
        )

        def ours_export(i: int) -> None:
            with runtime.export(ours_ids[i], "/bench/big.bin") as reader, reader.open_tar() as archive:
                for member in archive:
                    fh = archive.extractfile(member)
                    if fh is not None:
                        while fh.read(MiB):
                            pass

        def raw_export(i: int) -> None:
            stream, _ = client.api.get_archive(raw_ids[i], "/bench/big.bin")
            for _ in stream:
                pass

        # Diagnose what the engine does with the request Runtime.export sends (same headers).
        probe = runtime._sdk._get(
            runtime._sdk._url("/containers/{0}/archive", ours_ids[0]),
            params={"path": "/bench/big.bin"},
            headers=RAW_STREAM_HEADERS,
            stream=True,
        )
        encoding = probe.headers.get("Content-Encoding")
        probe.close()
        note = (
            f"; the engine answers export's request with Content-Encoding: {encoding} (export should ask for "
            "identity, as the SDK's get_archive does)"
            if encoding
            else ""
        )
        rows.append(
            _compare(
                f"container export {size // MiB} MiB: Runtime.export + open_tar vs SDK get_archive",
                size,
                ours_export,
                raw_export,
                runs,
                note,
            )
        )

        # Reading a finished container's log: every stored line, as the service's finalize does.
        lines = log_mb * 1_000_000 // 100
        log_id = str(
            client.api.create_container(
                image,
                ["sh", "-c", f"yes {'x' * 99} | head -n {lines}"],
                labels=LABELS,
                name=f"bench-{uuid.uuid4().hex[:10]}",
            )["Id"]
        )
        created.append(log_id)
        client.api.start(log_id)
        client.api.wait(log_id)
        log_bytes = lines * 100

        def ours_log(i: int) -> None:
            count = sum(1 for _ in runtime.stream_logs(log_id, follow=False))
            assert count == lines, count

        def raw_log(i: int) -> None:
            for _ in client.api.logs(log_id, stream=True, follow=False):
                pass

        rows.append(
            _compare(
                f"log read {log_bytes // 1_000_000} MB ({lines} lines): Runtime.stream_logs vs SDK logs(stream=True)",
                log_bytes,
                ours_log,
                raw_log,
                runs,
                "; ours also strips and deduplicates the engine timestamps (the SDK call requests none) and splits"
                " lines; most of the time is the engine's and urllib3's per-chunk work (one HTTP chunk per message)",
            )
        )
    finally:
        for cid in created:
            client.api.remove_container(cid, force=True)
        prebuilt.unlink(missing_ok=True)
        engine.close()
        client.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--s3-size-mib", type=int, default=256)
    parser.add_argument("--docker-size-mib", type=int, default=256)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--log-mb", type=int, default=10, help="size of the log read back (100-byte lines)")
    parser.add_argument("--image", default=DEFAULT_IMAGE)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-throughput-") as tmp:
        rows = s3_rows(write_random_file(Path(tmp) / "s3.bin", args.s3_size_mib * MiB), args.runs)
        rows += docker_rows(
            write_random_file(Path(tmp) / "docker.bin", args.docker_size_mib * MiB), args.image, args.runs, args.log_mb
        )
    path = write_results(
        "throughput",
        rows,
        title="Transfer throughput vs raw floors (same run, same data)",
        notes=(
            f"Median of {args.runs} runs each ({args.runs + 4} for S3), alternating raw and ours; "
            "MB = 10^6 bytes. S3: a moto server on "
            "127.0.0.1 (one process, CPU-bound: absolute numbers are moto's, the ratio is what matters); boto3 "
            "defaults are 8 MiB parts and 10 threads, `S3Store` uses 16 MiB parts and 8 threads; objects are "
            "deleted after each upload. The upload rows alternate all five variants (raw and ours with "
            "`when_supported`, the stager, raw and ours with `when_required`) in each round and compare like "
            "checksum settings; target ≥ 90 %. The stager row hashes the file (no memo) and then uploads it "
            "(S3 needs the content's name before the upload starts). 7 other sessions shared the 2 cores "
            "during this run: compare the ratios, not the absolute numbers. Docker: "
            f"image `{args.image}`, containers created but not started; delivery writes into the container's "
            "writable layer; export reads the archive to the end and discards it."
        ),
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
