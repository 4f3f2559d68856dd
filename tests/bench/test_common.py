"""The benchmark helpers report what they claim: a child's own peak memory, and a readable results table."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bench.common import machine_info, run_measured, summarize, write_results


def test_peak_rss_is_the_childs_own() -> None:
    # The child holds 200 MiB at once; the reported peak must include it, without counting this process.
    big = run_measured([sys.executable, "-c", "b = bytearray(200 * 2**20); b[::4096] = b'x' * len(b[::4096])"])
    small = run_measured([sys.executable, "-c", "pass"])
    assert big.returncode == 0 and small.returncode == 0
    assert big.peak_rss_bytes >= 200 * 2**20
    assert small.peak_rss_bytes < 100 * 2**20
    assert big.seconds > 0


def test_exit_code_is_reported() -> None:
    assert run_measured([sys.executable, "-c", "raise SystemExit(3)"]).returncode == 3


def test_results_table_has_machine_header_and_rows(tmp_path: Path) -> None:
    rows = [{"case": "a|b", **summarize([0.3, 0.1, 0.2])}, {"case": "c", **summarize([1.0])}]
    path = write_results(tmp_path / "demo", rows, title="Demo", notes="two cases")
    assert path == tmp_path / "demo.md"
    text = path.read_text()
    lines = text.splitlines()
    assert lines[0] == "# Demo"
    info = machine_info()
    assert f"- cores: {info['cores']}" in lines
    assert "two cases" in lines
    table = lines[lines.index("| case | runs | median s | min s | max s |") :]
    assert table[1:] == [
        "|---|---|---|---|---|",
        "| a\\|b | 3 | 0.200 | 0.100 | 0.300 |",
        "| c | 1 | 1.000 | 1.000 | 1.000 |",
    ]
    assert not list(tmp_path.glob("*.tmp"))


def test_rows_with_different_columns_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="differ"):
        write_results(tmp_path / "bad", [{"a": 1}, {"b": 2}])
