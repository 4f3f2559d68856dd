"""The log-stream protocol without an engine: frames cut out of arbitrary blocks, canonical timestamps, and the
cursor that lets a resumed request skip exactly what was delivered."""

from __future__ import annotations

import struct
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_dsjobs.runtime.errors import RuntimeFailure
from airflow_provider_dsjobs.runtime.log_stream import MAX_FRAME, LogCursor, canonical_stamp, cut_frames, epoch_of


def frame(kind: int, payload: bytes) -> bytes:
    return struct.pack(">BxxxL", kind, len(payload)) + payload


@given(st.lists(st.integers(1, 40), min_size=1, max_size=30))
def test_frames_are_cut_whatever_the_block_boundaries(cuts: list[int]) -> None:
    data = frame(1, b"out-1\n") + frame(2, b"err-1\n") + frame(1, b"x" * 50)
    blocks, at = [], 0
    for size in cuts:
        blocks.append(data[at : at + size])
        at += size
    blocks.append(data[at:])
    got = list(cut_frames(blocks, "test stream"))
    assert got == [("stdout", b"out-1\n"), ("stderr", b"err-1\n"), ("stdout", b"x" * 50), ("stdout", b"")]


def test_a_cut_response_has_no_end_marker_and_a_huge_frame_is_refused() -> None:
    whole = frame(1, b"complete\n")
    assert list(cut_frames([whole, frame(1, b"partial")[:-2]], "s")) == [("stdout", b"complete\n")]
    with pytest.raises(RuntimeFailure, match=r"log stream x is garbled \(a frame of"):
        list(cut_frames([struct.pack(">BxxxL", 1, MAX_FRAME + 1)], "log stream x"))


@given(
    st.lists(
        st.tuples(
            st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(9998, 12, 31)),
            st.integers(0, 999_999_999),
            st.integers(-14 * 60, 14 * 60),
        ),
        min_size=2,
        max_size=20,
    )
)
def test_log_stamps_compare_as_bytes_in_time_order(moments: list[tuple[datetime, int, int]]) -> None:
    """The log cursor compares engine timestamps as bytes, so their canonical form must sort like the times they
    name, whatever offset or fraction width the engine wrote."""
    expected, canonical = [], []
    for naive, nanos, offset_minutes in moments:
        zone = timezone(timedelta(minutes=offset_minutes))
        local = naive.replace(microsecond=0, tzinfo=timezone.utc).astimezone(zone)
        sign = "+" if offset_minutes >= 0 else "-"
        spelled = f"{local:%Y-%m-%dT%H:%M:%S}.{nanos:09d}".rstrip("0").rstrip(".")
        spelled += f"{sign}{abs(offset_minutes) // 60:02d}:{abs(offset_minutes) % 60:02d}"
        stamp = canonical_stamp(spelled.encode())
        assert stamp is not None and len(stamp) == 30 and stamp.endswith(b"Z")
        epoch = int(local.timestamp())
        assert epoch_of(stamp) == (epoch, nanos)
        expected.append((epoch, nanos))
        canonical.append(stamp)
    assert sorted(range(len(moments)), key=lambda i: canonical[i]) == sorted(
        range(len(moments)), key=lambda i: (expected[i], canonical[i])
    )


def test_docker_stamps_are_already_canonical_and_junk_is_refused() -> None:
    docker_stamp = b"2026-11-21T08:45:35.000120300Z"  # RFC3339NanoFixed in UTC, as the engine writes it
    assert canonical_stamp(docker_stamp) == docker_stamp
    assert canonical_stamp(b"2026-11-21T08:45:35Z") == b"2026-11-21T08:45:35.000000000Z"
    assert canonical_stamp(b"2026-11-21T11:45:35.5+03:00") == b"2026-11-21T08:45:35.500000000Z"
    for junk in (b"hello", b"2026-13-21T08:45:35Z", b"2026-11-21T08:45:35.1234567891Z", b"\xff" * 30):
        assert canonical_stamp(junk) is None


def stamped(stamp: str, text: str) -> bytes:
    return f"{stamp} {text}".encode()


def test_log_cursor_keeps_a_stderr_message_stored_after_a_later_stdout_one() -> None:
    """The engine stamps stdout and stderr in separate goroutines, so the stored log is not in stamp order across
    streams; a message must not be taken for a duplicate because the other stream is ahead."""
    cursor = LogCursor()
    assert cursor.accept("stdout", stamped("2026-11-21T08:00:00.100000002Z", "out-1\n")) == ("stdout", b"out-1\n")
    assert cursor.accept("stderr", stamped("2026-11-21T08:00:00.100000001Z", "err-1\n")) == ("stderr", b"err-1\n")
    # Resuming starts a little before the newest stamp; what was delivered is skipped, per stream.
    assert cursor.since_param() == "1795248000.100000001"
    assert cursor.accept("stderr", stamped("2026-11-21T08:00:00.100000001Z", "err-1\n")) == ("stderr", b"")
    assert cursor.accept("stdout", stamped("2026-11-21T08:00:00.100000002Z", "out-1\n")) == ("stdout", b"")
    assert cursor.accept("stdout", stamped("2026-11-21T08:00:00.100000002Z", "out-2\n")) == ("stdout", b"out-2\n")
    assert cursor.accept("stderr", stamped("2026-11-21T08:00:00.100000003Z", "err-2\n")) == ("stderr", b"err-2\n")
    assert cursor.frames == 4


def test_log_cursor_resume_does_not_reread_a_long_quiet_stream() -> None:
    cursor = LogCursor()
    cursor.accept("stderr", stamped("2026-11-21T08:00:00.000000000Z", "warning at start\n"))
    cursor.accept("stdout", stamped("2026-11-21T09:00:00.500000000Z", "an hour later\n"))
    assert cursor.since_param() == "1795251600.480000000"
    only_stdout = LogCursor()
    only_stdout.accept("stdout", stamped("2026-11-21T09:00:00.000000000Z", "x\n"))
    assert only_stdout.since_param() == "1795251599.980000000"
