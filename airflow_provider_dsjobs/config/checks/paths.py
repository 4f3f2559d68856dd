"""``inputs``, ``outputs``, ``s3-mounts``, ``datasets``: entries, variables, paths inside the job directory."""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass

from ..model import (
    PathEntry,
    ResourceEntry,
)
from ..yaml_source import Node
from .checker import (
    Checker,
    Path_,
    exists,
    local_path,
    short,
)


@dataclass
class _Entry:
    path: Path_
    target: str  # the path or the resource ID
    target_node: Node
    var: str | None
    var_node: Node | None
    var_path: Path_  # where the variable is written (for messages about it)


def _entries(c: Checker, section: str) -> Iterator[_Entry]:
    """Each entry of a list section in its three forms; malformed entries (reported by the schema) skipped."""
    for i, item in enumerate(c.items(c.doc.root.child(section))):
        path: Path_ = (section, i)
        if item.kind == "scalar":
            if item.raw is not None and item.typed is not None:
                yield _Entry(path, item.raw, item, None, None, path)
            continue
        if item.kind != "map" or len(item.entries) != 1:
            continue
        ((target, value),) = item.entries.items()
        target_node = item.keys[target]
        var_node: Node | None = None
        var_path: Path_ = (*path, target)
        if value.kind == "scalar":
            var_node = None if value.is_null else value
        elif value.kind == "map" and set(value.entries) == {"var"}:
            var_node = value.entries["var"]
            var_path = (*var_path, "var")
        else:
            continue
        var = c.text(var_node) if var_node is not None else None
        if var_node is not None and var is None:
            continue
        yield _Entry(path, target, target_node, var, var_node, var_path)


def _escapes(p: str) -> str | None:
    """Why a var-less path may not be used, or None: it must be relative and stay inside the job directory.
    A backslash is an ordinary character of a name, as on Linux (``storage/keys.py``)."""
    if posixpath.normpath(p) == ".":
        return "names the job directory itself; name a file or directory inside it (or give the entry a variable)"
    if p.startswith("/"):
        return "is absolute; a path without a variable must be relative to the job directory (or give it a variable)"
    depth = 0
    for part in p.split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                return "leaves the job directory (`..`); keep it inside, or give the entry a variable"
        elif part not in ("", "."):
            depth += 1
    return None


def _parts(c: Checker, e: _Entry) -> tuple[str, ...]:
    return tuple(part for part in os.path.normpath(local_path(c, e.target)).split("/") if part)


def _check_unique_and_nested(c: Checker, section: str, entries: list[_Entry]) -> None:
    """Each entry listed once, none inside another. Sorted, a path's descendants follow it, so one sweep with a
    stack of the open ancestors finds every pair: O(n log n) plus the nesting depth, never all n² pairs."""
    parts = [_parts(c, e) for e in entries]
    found: dict[int, tuple[int, str]] = {}  # later entry -> (an earlier one it clashes with, how)
    stack: list[int] = []
    for i in sorted(range(len(entries)), key=parts.__getitem__):
        while stack and parts[i][: len(parts[stack[-1]])] != parts[stack[-1]]:
            stack.pop()
        for a in stack:  # every open entry is i itself (listed again) or one of its ancestors
            later, earlier = max(a, i), min(a, i)
            how = "twice" if parts[a] == parts[i] else ("is inside" if later == i else "contains")
            if later not in found or earlier < found[later][0]:
                found[later] = (earlier, how)
        stack.append(i)
    for later in sorted(found):
        earlier, how = found[later]
        e, other = entries[later], entries[earlier]
        where = c.where(other.path, other.target_node)
        if how == "twice":
            message = f"`{e.target}` is listed twice (also at {where})"
        else:
            message = f"`{e.target}` {how} `{other.target}` ({where}); list only one of them"
        c.error(e.path, message, e.target_node)


def read_path_entries(c: Checker, section: str) -> tuple[PathEntry, ...]:
    out: list[PathEntry] = []
    good: list[_Entry] = []
    blocked = c.is_blocked((section,))  # e.g. over `maxItems`: that is the reason to give, and checks cost
    for e in _entries(c, section):
        ok = True
        if not e.target.strip():
            c.error(e.path, "the path is empty", e.target_node)
            continue
        if e.var is not None and e.var_node is not None:
            if c.check_var_name(e.var_path, e.var, e.var_node):
                c.declare(e.var_path, e.var, e.var_node)
        elif (why := _escapes(e.target)) is not None:
            c.error(e.path, f"`{short(e.target)}` {why}", e.target_node)
            ok = False
        if ok and section == "inputs" and not blocked and c.check_files and not exists(local_path(c, e.target)):
            c.error(e.path, f"`{short(e.target)}` does not exist (looked in {local_path(c, e.target)})", e.target_node)
        out.append(PathEntry(e.target, e.var))
        if ok:
            good.append(e)
    if not blocked:
        _check_unique_and_nested(c, section, good)
    return tuple(out)


def read_resource_entries(c: Checker, section: str) -> tuple[ResourceEntry, ...]:
    out: list[ResourceEntry] = []
    for e in _entries(c, section):
        if c.check_var_name(e.path, e.target, e.target_node, "resource ID"):
            c.declare(e.path, e.target, e.target_node)
        if e.var is not None and e.var_node is not None and c.check_var_name(e.var_path, e.var, e.var_node):
            c.declare(e.var_path, e.var, e.var_node)
        out.append(ResourceEntry(e.target, e.var))
    return tuple(out)
