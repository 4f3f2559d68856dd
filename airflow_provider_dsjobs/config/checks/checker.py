"""The problem collector shared by the section checks, and helpers for reading located values."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import PathPart, Problem, format_key_path
from ..instance_types import BUILTIN_CATALOG, InstanceCatalog
from ..model import (
    ATTACH_PROJECT_DISK,
    RESERVED_VAR,
)
from ..units import parse_size
from ..yaml_source import Document, Node

VAR_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,50}")
VAR_NAME_ALLOWED = "1 to 50 characters: letters, digits, `_` or `-`"

Path_ = tuple[PathPart, ...]


@dataclass
class _Declared:
    path: str
    line: int | None


@dataclass
class Checker:
    """Collects problems and warnings while building the model from ``doc``."""

    doc: Document
    base_dir: Path
    check_files: bool = True
    problems: list[tuple[Path_, Problem]] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    declared: dict[str, _Declared] = field(default_factory=dict)
    #: Key paths the schema already rejected (e.g. a list over ``maxItems``): checks below them are skipped.
    blocked: tuple[Path_, ...] = ()
    #: The instance type names a config may use.
    catalog: InstanceCatalog = BUILTIN_CATALOG

    # ---- reporting -------------------------------------------------------------------------------------
    def _make(self, path: Path_, message: str, node: Node | None, needle: str | None) -> Problem:
        if node is None:
            node = self.doc.root.find(path)
        line = column = None
        if node is not None:
            if needle is not None:
                line, column = self.doc.position_of_text(node, needle)
            else:
                line, column = node.line, node.column
        return Problem(self.doc.source, line, column, format_key_path(path), message)

    def error(self, path: Path_, message: str, node: Node | None = None, needle: str | None = None) -> None:
        self.problems.append((path, self._make(path, message, node, needle)))

    def warn(self, path: Path_, message: str, node: Node | None = None) -> None:
        self.warnings.append(self._make(path, message, node, None))

    def key_node(self, path: Path_) -> Node | None:
        """The node of the last key of ``path`` (for messages about a key rather than its value)."""
        parent = self.doc.root.find(path[:-1])
        last = path[-1] if path else None
        if parent is not None and isinstance(last, str):
            return parent.key_node(last) or parent.child(last)
        return self.doc.root.find(path)

    def is_blocked(self, path: Path_) -> bool:
        """Whether the schema already rejected ``path`` or a key above it (its problems would be dropped)."""
        return any(path[: len(b)] == b for b in self.blocked)

    # ---- reading ---------------------------------------------------------------------------------------
    @staticmethod
    def text(node: Node | None) -> str | None:
        """A scalar's text as written; None for a missing/null/non-scalar node."""
        if node is None or node.kind != "scalar":
            return None
        return node.raw

    @staticmethod
    def items(node: Node | None) -> list[Node]:
        return node.items if node is not None and node.kind == "seq" else []

    @staticmethod
    def entries(node: Node | None) -> dict[str, Node]:
        return node.entries if node is not None and node.kind == "map" else {}

    def where(self, path: Path_, node: Node | None) -> str:
        line = f" (line {node.line})" if node is not None and node.line is not None else ""
        return f"{format_key_path(path)}{line}"

    # ---- variables ---------------------------------------------------------------------------------------
    def check_var_name(self, path: Path_, name: str, node: Node | None, what: str = "variable name") -> bool:
        if name == RESERVED_VAR:
            self.error(path, f"`{RESERVED_VAR}` is reserved (the `{ATTACH_PROJECT_DISK}` flag defines it)", node)
            return False
        if not VAR_NAME_RE.fullmatch(name):
            self.error(path, f"`{short(name)}` is not a valid {what} ({VAR_NAME_ALLOWED})", node)
            return False
        return True

    def declare(self, path: Path_, name: str, node: Node | None) -> None:
        first = self.declared.get(name)
        if first is not None:
            self.error(
                path,
                f"`{name}` is already declared at {first.path}{'' if first.line is None else f' (line {first.line})'}"
                " (variables and resource IDs share one namespace: each name once)",
                node,
            )
            return
        self.declared[name] = _Declared(format_key_path(path), node.line if node is not None else None)


def short(s: str, limit: int = 60) -> str:
    return s if len(s) <= limit else s[: limit - 3] + "..."


def current_python_version() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def local_path(c: Checker, p: str) -> Path:
    path = Path(p)
    return path if path.is_absolute() else c.base_dir / path


def string_list(c: Checker, path: Path_) -> tuple[str, ...] | None:
    node = c.doc.root.find(path)
    if node is None or node.kind != "seq":
        return None
    return tuple(i.raw for i in node.items if i.kind == "scalar" and i.raw is not None and isinstance(i.typed, str))


def size_of(c: Checker, path: Path_, node: Node | None) -> int | None:
    if node is None or node.kind != "scalar" or node.raw is None:
        return None
    if isinstance(node.typed, bool):
        return None
    try:
        return parse_size(node.typed if isinstance(node.typed, int) else node.raw)
    except ValueError as exc:
        c.error(path, str(exc), node)
        return None
