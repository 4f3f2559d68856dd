"""The resource chart from stored samples, without a server: thinning, scaling, tampered rows."""

from __future__ import annotations

from pathlib import Path

from airflow_provider_dsjobs.jobs.stats import HEADER, MAX_READ_BYTES, read_stats
from airflow_provider_dsjobs.plugins.chart import HEIGHT, PAD, WIDTH, stats_chart
from airflow_provider_dsjobs.storage.local import LocalStore


def _store(tmp_path: Path, text: str) -> LocalStore:
    store = LocalStore(tmp_path / "store")
    store.put_bytes("s.tsv", text.encode())
    return store


def test_samples_are_thinned_and_scaled_into_the_chart(tmp_path: Path) -> None:
    rows = [f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}+00:00\t{i % 7 * 10.0}\t{i * 1000}\t0\t1" for i in range(1000)]
    points = read_stats(_store(tmp_path, "\n".join([HEADER, *rows])), "s.tsv", max_points=100)
    assert len(points) == 100 and points[0].seconds == 0 and points[-1].seconds == 990
    chart = stats_chart(points)
    assert chart is not None and chart.samples == 100 and chart.memory_limit is None
    xs = [float(p.split(",")[0]) for p in chart.cpu_points.split()]
    ys = [float(p.split(",")[1]) for p in chart.memory_points.split()]
    assert min(xs) == PAD and max(xs) == WIDTH - PAD
    assert min(ys) == PAD and max(ys) == HEIGHT - PAD  # the peak at the top, zero at the bottom


def test_tampered_or_missing_files_give_no_chart_never_an_error(tmp_path: Path) -> None:
    bad = ["x\ty", "\t\t\t", "2026-01-01T00:00:00+00:00\tnan\t1\t1\t1", "2026-01-01T00:00:00\t1\t1\t1\t1"]
    store = _store(tmp_path, "\n".join([HEADER, *bad]) + "\n")
    assert read_stats(store, "s.tsv") == [] and stats_chart([]) is None
    assert read_stats(store, "missing.tsv") == []
    huge = "2026-01-01T00:00:00+00:00\t1.0\t1\t1\t1\n" * (MAX_READ_BYTES // 30)
    assert len(read_stats(_store(tmp_path / "big", HEADER + "\n" + huge), "s.tsv", max_points=10)) == 10
