"""The engine's log stream: Docker's multiplexed frames, and where a resumed request picks up.

A logs request with ``timestamps=1`` returns frames — an 8-byte header (stream kind: 1 stdout, 2 stderr; payload
length, big-endian) and a payload that starts with the engine's RFC 3339 timestamp. ``cut_frames`` cuts them out of
the response's blocks; ``LogCursor`` remembers per stream the last timestamp delivered, so the runtime can resume a
stream that ended early without repeating or losing a line (``Runtime.stream_logs`` in ``runtime/containers.py``).
Pure: no engine, no I/O.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone

from airflow_provider_dsjobs.runtime.errors import RuntimeFailure
from airflow_provider_dsjobs.runtime.logs import StreamName

#: Docker's frame header: stream kind (1 stdout, 2 stderr), 3 zero bytes, payload length (big-endian).
FRAME_HEADER = struct.Struct(">BxxxL")
#: Larger than any frame Docker sends (one log message: at most 16 KiB of output plus its timestamp).
MAX_FRAME = 1024 * 1024
#: Length of a canonical stamp, ``YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ``.
STAMP_SIZE = 30


def cut_frames(blocks: Iterable[bytes], what: str) -> Iterator[tuple[StreamName, bytes]]:
    """``(stream, payload)`` of every frame in ``blocks``, then ``("stdout", b"")`` when they ended at a frame
    boundary (no real frame is empty: the end marker). The buffer holds at most one partial frame plus one block; a
    header announcing more than ``MAX_FRAME`` bytes is not Docker's framing: ``RuntimeFailure`` naming ``what``."""
    header_size = FRAME_HEADER.size
    unpack = FRAME_HEADER.unpack_from
    pending = b""
    for block in blocks:
        pending = pending + block if pending else block
        end = len(pending)
        at = 0
        while end - at >= header_size:
            kind, length = unpack(pending, at)
            if length > MAX_FRAME:  # do not buffer gigabytes waiting for its end
                raise RuntimeFailure(f"{what} is garbled (a frame of {length} bytes)")
            stop = at + header_size + length
            if stop > end:
                break
            yield ("stderr" if kind == 2 else "stdout"), pending[at + header_size : stop]
            at = stop
        pending = pending[at:]
    if not pending:  # a response cut inside a frame did not end normally
        yield "stdout", b""


class LogCursor:
    """Where a log stream got to, per output stream: the last engine timestamp seen and how many frames carried it,
    so a resumed request (``since`` is inclusive) can skip exactly the frames already delivered.

    Each stream is tracked on its own: the engine stamps stdout and stderr in separate goroutines, so in the stored
    log a stderr message may follow a stdout message stamped a little later. Within one stream stamps only grow.
    So a resumed request starts a little (``RESUME_OVERLAP_NS``, more than that skew) before the newest stamp seen,
    or at the older stream's last stamp if that is later; what it repeats is skipped, per stream. It never starts
    further back: a stream quiet for long must not make every resume re-read the log since its last message.

    Timestamps are compared as bytes, never parsed per frame: Docker writes them as RFC 3339 in UTC with a
    fixed-width nanosecond fraction (``2026-01-02T03:04:05.123456789Z``), whose byte order is time order. Any other
    spelling (an offset, a short fraction) is first rewritten into that form (:func:`canonical_stamp`). A stamp
    is parsed only to build ``since`` when a stream is resumed."""

    #: How far before the newest stamp seen a resumed request starts: more than the engine's skew between the two
    #: streams' stamps, less than the gap between bursts of output (a resume repeats what lies in between).
    RESUME_OVERLAP_NS = 20_000_000

    def __init__(self) -> None:
        self.last: dict[StreamName, bytes] = {}  # canonical stamps, see canonical_stamp
        self.at_last: dict[StreamName, int] = {}
        self.frames = 0
        self._skip: dict[StreamName, int] = {}

    def since_param(self) -> str | None:
        if not self.last:
            return None
        self._skip = dict(self.at_last)
        seconds, nanos = epoch_of(max(self.last.values()))
        start = seconds * 1_000_000_000 + nanos - self.RESUME_OVERLAP_NS
        if len(self.last) == 2:
            seconds, nanos = epoch_of(min(self.last.values()))
            start = max(start, seconds * 1_000_000_000 + nanos)
        return f"{start // 1_000_000_000}.{start % 1_000_000_000:09d}"

    def accept(self, stream: StreamName, frame: bytes) -> tuple[StreamName, bytes]:
        """The frame's payload without its timestamp, or ``b""`` if it was delivered before."""
        stamp, sep, payload = frame.partition(b" ")
        if not sep:  # not timestamped (should not happen): pass it through
            return stream, frame
        if len(stamp) != STAMP_SIZE or stamp[-1:] != b"Z" or stamp[10:11] != b"T":
            canonical = canonical_stamp(stamp)
            if canonical is None:
                return stream, frame
            stamp = canonical
        last = self.last.get(stream)
        if last is not None and stamp <= last:
            if stamp < last:
                return stream, b""
            skip = self._skip.get(stream, 0)
            if skip > 0:
                self._skip[stream] = skip - 1
                return stream, b""
            self.at_last[stream] += 1
        else:
            self.last[stream], self.at_last[stream], self._skip[stream] = stamp, 1, 0
        self.frames += 1
        return stream, payload


def canonical_stamp(stamp: bytes) -> bytes | None:
    """Any RFC 3339 stamp → ``YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`` in UTC (byte order = time order); None if not one."""
    try:
        text = stamp.decode("ascii")
    except UnicodeDecodeError:
        return None
    if len(text) < 20 or text[10:11] not in ("T", "t"):
        return None
    head, rest = text[:19], text[19:]
    frac = ""
    if rest.startswith("."):
        digits = len(rest) - len(rest[1:].lstrip("0123456789"))
        frac, rest = rest[1:digits], rest[digits:]
    if rest in ("Z", "z"):
        rest = "+00:00"
    if len(frac) > 9:
        return None
    try:
        moment = datetime.fromisoformat(head + rest).astimezone(timezone.utc)
    except ValueError:
        return None
    nanos = (frac + "000000000")[:9]
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{nanos}Z".encode("ascii")


def epoch_of(stamp: bytes) -> tuple[int, int]:
    """A canonical stamp → (epoch seconds, nanoseconds)."""
    text = stamp.decode("ascii")
    moment = datetime.fromisoformat(text[:19]).replace(tzinfo=timezone.utc)
    return int(moment.timestamp()), int(text[20:29])
