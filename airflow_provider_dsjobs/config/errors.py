"""Problems found in a ``config.yaml`` and the exception that carries them.

A :class:`Problem` is one thing wrong (or worth a warning) at one place. It formats as
``FILE:LINE:COL: key.path: what is wrong (what is allowed)``; ``LINE:COL`` is left out when the position is
unknown (a config given as a Python mapping has key paths but no lines).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

#: One step of a key path: a mapping key or a list index.
PathPart = str | int


def format_key_path(parts: Sequence[PathPart]) -> str:
    """``("env", "vars", 0)`` -> ``env.vars[0]``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


@dataclass(frozen=True)
class Problem:
    """One error or warning about a config, with where it is (line/column are 1-based)."""

    source: str
    line: int | None
    column: int | None
    key_path: str
    message: str

    def __str__(self) -> str:
        where = self.source
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        if self.key_path:
            return f"{where}: {self.key_path}: {self.message}"
        return f"{where}: {self.message}"

    def sort_key(self) -> tuple[int, int, str, str]:
        return (self.line or 0, self.column or 0, self.key_path, self.message)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "line": self.line,
            "column": self.column,
            "key_path": self.key_path,
            "message": self.message,
        }


def sort_problems(problems: Iterable[Problem]) -> list[Problem]:
    """Problems in file order, duplicates dropped."""
    seen: set[Problem] = set()
    unique = []
    for p in problems:
        if p not in seen:
            seen.add(p)
            unique.append(p)
    return sorted(unique, key=Problem.sort_key)


class ConfigError(Exception):
    """A config that cannot be used. ``problems`` lists everything wrong; ``str()`` gives one per line."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: list[Problem] = sort_problems(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)
