"""Byte counts as people read them (documents describe themselves with it; so do progress lines and pages)."""

from __future__ import annotations

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def human_size(n: float) -> str:
    """``512 B``, ``1.5 KiB``, ``12.0 MiB``, ``5.0 GiB`` (binary units)."""
    if n < 1024:
        return f"{int(n)} B"
    value = float(n)
    for unit in _UNITS[1:]:
        value /= 1024
        if value < 1024 or unit == _UNITS[-1]:
            return f"{value:.1f} {unit}"
    raise AssertionError("unreachable")
