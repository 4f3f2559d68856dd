"""Human sizes (``150GB``) and durations (``1m30s``) as written in ``config.yaml``.

Sizes: digits alone are bytes; otherwise a number (decimals allowed) and a unit ``KB``, ``MB``, ``GB``,
``TB`` or ``PB`` in any case, optionally after spaces. Multipliers are binary (1 GB = 2**30 bytes), as in
DataSphere.

Durations: whole numbers with units in the order ``d``, ``h``, ``m``, ``s``, ``ms`` (each at most once),
e.g. ``15s``, ``1m30s``, ``2d3h``, ``500ms``.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

SIZE_UNITS: dict[str, int] = {"KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40, "PB": 1 << 50}

_SIZE_RE = re.compile(r"(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>[A-Za-z]*)")
_DURATION_RE = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?")
_DURATION_UNITS = (86400.0, 3600.0, 60.0, 1.0, 0.001)

SIZE_HELP = "digits alone for bytes, or a number and a unit KB, MB, GB, TB or PB, e.g. `150GB` or `1.5TB`"
DURATION_HELP = "whole numbers with units in the order d, h, m, s, ms, e.g. `15s`, `1m30s`, `2d3h`, `500ms`"


def parse_size(text: str | int) -> int:
    """Bytes in a size like ``150GB``, ``150 gb``, ``1.5TB`` or ``1024``. Raises ``ValueError``."""
    if isinstance(text, bool):
        raise ValueError(f"`{text}` is not a size (write {SIZE_HELP})")
    if isinstance(text, int):
        if text < 0:
            raise ValueError(f"`{text}` is not a size: it is negative")
        return text
    s = str(text).strip()
    match = _SIZE_RE.fullmatch(s)
    if not match:
        raise ValueError(f"`{_short(s)}` is not a size (write {SIZE_HELP})")
    number, unit = match.group("number"), match.group("unit").upper()
    if not unit:
        if "." in number:
            raise ValueError(
                f"`{_short(s)}` is not a size: a fraction of a byte makes no sense (add a unit, e.g. `{s}GB`)"
            )
        return int(number)
    if unit not in SIZE_UNITS:
        hint = ""
        if unit in ("K", "M", "G", "T", "P"):
            hint = f": the unit is `{unit}B`, not `{unit}` (write `{number}{unit}B`)"
        elif unit == "B":
            hint = f": write bytes as digits alone (`{number}`)"
        else:
            hint = f": unknown unit `{match.group('unit')}`"
        if unit not in ("K", "M", "G", "T", "P", "B"):
            hint += " (write a unit KB, MB, GB, TB or PB, e.g. `150GB`)"
        raise ValueError(f"`{_short(s)}` is not a size{hint}")
    try:
        return int(Decimal(number) * SIZE_UNITS[unit])
    except InvalidOperation as exc:  # pragma: no cover - the regex only lets decimals through
        raise ValueError(f"`{s}` is not a size (write {SIZE_HELP})") from exc


def parse_duration(text: str) -> float:
    """Seconds in a duration like ``1m30s`` or ``500ms``. Raises ``ValueError``."""
    s = str(text).strip()
    match = _DURATION_RE.fullmatch(s) if s else None
    if match is None:
        hint = ""
        if s.isdigit():
            hint = f": add a unit, e.g. `{s}s`"
        elif s and s.lower() != s and _DURATION_RE.fullmatch(s.lower()):
            hint = f": units are lower case (`{s.lower()}`)"
        elif " " in s:
            hint = ": no spaces allowed"
        elif "." in s:
            hint = ": no decimals allowed (use a smaller unit, e.g. `1500ms`)"
        raise ValueError(f"`{_short(s)}` is not a duration{hint} (write {DURATION_HELP})")
    return sum(float(g) * unit for g, unit in zip(match.groups(), _DURATION_UNITS, strict=True) if g is not None)


def format_size(size_bytes: int) -> str:
    """Short human form of a byte count, for messages."""
    for unit in ("PB", "TB", "GB", "MB", "KB"):
        mult = SIZE_UNITS[unit]
        if size_bytes >= mult:
            value = size_bytes / mult
            return f"{value:.4g}{unit}"
    return f"{size_bytes} bytes"


def _short(s: str, limit: int = 60) -> str:
    return s if len(s) <= limit else s[: limit - 3] + "..."
