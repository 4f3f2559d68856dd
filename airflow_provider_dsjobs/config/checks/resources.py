"""``flags``, ``cloud-instance-types``, ``working-storage`` and ``graceful-shutdown``."""

from __future__ import annotations

from ..model import (
    ATTACH_PROJECT_DISK,
    GRACEFUL_SIGNALS,
    GracefulShutdown,
    WorkingStorage,
)
from ..units import format_size, parse_duration
from .checker import (
    Checker,
    short,
    size_of,
)

KNOWN_FLAGS = (ATTACH_PROJECT_DISK,)
WORKING_STORAGE_MIN_GB = 100
WORKING_STORAGE_MAX_GB = 10 * 1024


def read_flags(c: Checker) -> tuple[str, ...]:
    out = []
    for i, item in enumerate(c.items(c.doc.root.child("flags"))):
        if item.kind == "scalar" and item.raw is not None:
            if item.raw not in KNOWN_FLAGS:
                c.warn(
                    ("flags", i),
                    f"unknown flag `{short(item.raw)}` is ignored (known: {', '.join(KNOWN_FLAGS)})",
                    item,
                )
            if item.raw not in out:
                out.append(item.raw)
    return tuple(out)


def read_instance_types(c: Checker) -> tuple[str, ...]:
    root = c.doc.root
    plural, singular = root.child("cloud-instance-types"), root.child("cloud-instance-type")
    if plural is not None and singular is not None:
        c.error(
            ("cloud-instance-type",),
            "give either `cloud-instance-types` or `cloud-instance-type`, not both",
            c.key_node(("cloud-instance-type",)),
        )
    key = "cloud-instance-types" if plural is not None else "cloud-instance-type"
    node = plural if plural is not None else singular
    if node is None or node.is_null:
        return ()  # none named: the engine's own resources
    items = [(node, (key,))] if node.kind == "scalar" else [(n, (key, i)) for i, n in enumerate(c.items(node))]
    out: list[str] = []
    for item, path in items:
        name = c.text(item)
        if name is None or item.kind != "scalar":
            continue
        if name not in c.catalog:
            c.error(path, f"unknown instance type `{short(name)}` (known: {c.catalog.names()})", item)
        elif name in out:
            c.error(path, f"`{name}` is listed twice", item)
        else:
            out.append(name)
    return tuple(out)


def read_working_storage(c: Checker) -> WorkingStorage | None:
    node = c.doc.root.child("working-storage")
    if node is None or node.kind != "map":
        return None
    kind = c.text(node.entries.get("type")) or "SSD"
    size_node = node.entries.get("size")
    size = size_of(c, ("working-storage", "size"), size_node)
    if size is None:
        return None
    size_gb = -(-size // (1 << 30))
    if not WORKING_STORAGE_MIN_GB <= size_gb <= WORKING_STORAGE_MAX_GB:
        raw = size_node.raw if size_node is not None else ""
        hint = ""
        if raw and raw.isdigit():
            hint = f"; digits alone are bytes: did you mean `{raw}GB`?"
        c.error(
            ("working-storage", "size"),
            f"`{raw}` is {format_size(size)}; working storage must be from 100GB to 10TB{hint}",
            size_node,
        )
        return None
    return WorkingStorage(size_bytes=size, type=kind)


def read_graceful_shutdown(c: Checker) -> GracefulShutdown | None:
    node = c.doc.root.child("graceful-shutdown")
    if node is None or node.kind != "map":
        return None
    signal = c.text(node.entries.get("signal")) or "SIGTERM"
    signal_ok = signal in GRACEFUL_SIGNALS
    if not signal_ok:  # the schema says so too; this keeps the model honest for any caller
        c.error(
            ("graceful-shutdown", "signal"),
            f"`{short(signal)}` is not allowed (allowed: {', '.join(GRACEFUL_SIGNALS)})",
        )
    timeout: float | None = None
    timeout_node = node.entries.get("timeout")
    raw = c.text(timeout_node)
    if timeout_node is not None and raw and isinstance(timeout_node.typed, str):
        try:
            timeout = parse_duration(raw) or None
        except ValueError as exc:
            c.error(("graceful-shutdown", "timeout"), str(exc), timeout_node)
    # Both keys are checked before giving up, so a bad signal does not hide a bad timeout.
    return GracefulShutdown(signal=signal, timeout_seconds=timeout) if signal_ok else None
