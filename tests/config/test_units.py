"""Sizes and durations as users write them in config.yaml."""

from __future__ import annotations

import pytest

from airflow_provider_dsjobs.config.units import format_size, parse_duration, parse_size

GB = 1 << 30


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1024", 1024),
        ("0", 0),
        ("150Gb", 150 * GB),
        ("150gb", 150 * GB),
        ("150 GB", 150 * GB),
        ("150GB", 150 * GB),
        ("  2 kb ", 2048),
        ("1MB", 1 << 20),
        ("1.5TB", int(1.5 * (1 << 40))),
        ("10TB", 10 << 40),
        ("1PB", 1 << 50),
        (100, 100),
    ],
)
def test_parse_size(text: str | int, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("150G", "the unit is `GB`, not `G` (write `150GB`)"),
        ("3T", "the unit is `TB`, not `T`"),
        ("100B", "write bytes as digits alone (`100`)"),
        ("10 XB", "unknown unit `XB`"),
        ("1.5", "a fraction of a byte"),
        ("GB", "is not a size"),
        ("", "is not a size"),
        ("-5GB", "is not a size"),
        ("1,5GB", "is not a size"),
    ],
)
def test_parse_size_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_size(text)


def test_parse_size_rejects_bool_and_negative() -> None:
    with pytest.raises(ValueError):
        parse_size(True)
    with pytest.raises(ValueError, match="negative"):
        parse_size(-1)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("15s", 15.0),
        ("1m30s", 90.0),
        ("2d3h", 2 * 86400 + 3 * 3600.0),
        ("500ms", 0.5),
        ("1m500ms", 60.5),
        ("1h", 3600.0),
        ("1d1h1m1s1ms", 86400 + 3600 + 60 + 1 + 0.001),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("90", "add a unit, e.g. `90s`"),
        ("15S", "units are lower case (`15s`)"),
        ("15 s", "no spaces allowed"),
        ("1.5s", "no decimals allowed"),
        ("30s1m", "is not a duration"),
        ("", "is not a duration"),
        ("1w", "is not a duration"),
    ],
)
def test_parse_duration_rejects(text: str, hint: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_duration(text)
    assert hint in str(info.value)


def test_format_size() -> None:
    assert format_size(150 * GB) == "150GB"
    assert format_size(100) == "100 bytes"
    assert format_size(int(1.5 * (1 << 40))) == "1.5TB"
