"""Turning a container's byte stream into text lines, in bounded memory.

Docker delivers output in frames whose boundaries have nothing to do with lines (a long line arrives in 16 KiB
pieces; a multi-byte UTF-8 character may straddle two frames). :class:`LineSplitter` joins pieces into lines,
decodes UTF-8 incrementally (invalid bytes become U+FFFD), strips the ``\\n`` / ``\\r\\n`` ending, and never holds
more than ``max_line`` characters: a longer line is emitted in ``max_line``-sized parts.
"""

from __future__ import annotations

import codecs
from typing import Literal

#: The output streams of a container.
StreamName = Literal["stdout", "stderr"]

#: The longest line kept in one piece; longer ones are split (a 200 KB line becomes 4 lines).
MAX_LINE = 64 * 1024


class LineSplitter:
    """Feed bytes, get complete lines; ``flush()`` returns the last partial line (no trailing newline)."""

    def __init__(self, max_line: int = MAX_LINE) -> None:
        if max_line < 1:
            raise ValueError("max_line must be positive")
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._parts: list[str] = []
        self._size = 0
        self._max = max_line

    def feed(self, data: bytes) -> list[str]:
        return self._split(self._decoder.decode(data))

    def flush(self) -> list[str]:
        lines = self._split(self._decoder.decode(b"", final=True))
        if self._size:
            lines.append(self._take().removesuffix("\r"))
        return lines

    def _take(self) -> str:
        text = "".join(self._parts)
        self._parts, self._size = [], 0
        return text

    def _split(self, text: str) -> list[str]:
        if not self._size and len(text) <= self._max and text.endswith("\n"):
            # The usual case (Docker sends one message per line): whole lines, none too long, nothing pending.
            return [line.removesuffix("\r") for line in text[:-1].split("\n")]
        lines: list[str] = []
        start = 0
        while start < len(text):
            newline = text.find("\n", start)
            end = len(text) if newline < 0 else newline
            piece = text[start:end]
            # Emit max-sized parts while the pending line is too long.
            while self._size + len(piece) > self._max:
                room = self._max - self._size
                self._parts.append(piece[:room])
                self._size += room
                lines.append(self._take())
                piece = piece[room:]
            if piece:
                self._parts.append(piece)
                self._size += len(piece)
            if newline < 0:
                break
            lines.append(self._take().removesuffix("\r"))
            start = newline + 1
        return lines
