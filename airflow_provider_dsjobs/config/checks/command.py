"""``args`` and ``cmd``: argument names, and every ``${VAR}`` in ``cmd`` declared."""

from __future__ import annotations

import re

from ..model import (
    ATTACH_PROJECT_DISK,
    RESERVED_VAR,
)
from .checker import (
    Checker,
    Path_,
    short,
)

#: ``${NAME}`` in ``cmd``; no braces inside, so ``${A} ${B}`` never becomes one reference.
CMD_VAR_RE = re.compile(r"\$\{([^{}]*)\}")


def read_args(c: Checker) -> tuple[tuple[str, str], ...]:
    node = c.doc.root.child("args")
    out = []
    for key, value in c.entries(node).items():
        path: Path_ = ("args", key)
        key_node = node.keys.get(key) if node is not None else None
        if c.check_var_name(path, key, key_node, "argument name"):
            c.declare(path, key, key_node)
        if value.kind == "scalar":
            out.append((key, value.raw or ""))
    return tuple(out)


def read_cmd(c: Checker, flags: tuple[str, ...]) -> str | None:
    node = c.doc.root.child("cmd")
    raw = c.text(node)
    if node is None or raw is None or not isinstance(node.typed, str):
        return None
    cmd = raw.strip()
    if not cmd:
        c.error(("cmd",), "is empty (write the command to run)", node)
        return None
    reported: set[str] = set()
    for match in CMD_VAR_RE.finditer(cmd):
        name = match.group(1)
        if name in reported:
            continue
        reported.add(name)
        ref = match.group(0)
        if not name.strip():
            c.error(
                ("cmd",),
                "`${}` names no variable (write `${NAME}` with a declared NAME, or `$$` for the shell)",
                node,
                needle=ref,
            )
        elif name == RESERVED_VAR:
            if ATTACH_PROJECT_DISK not in flags:
                c.error(
                    ("cmd",),
                    f"`${{{RESERVED_VAR}}}` needs the flag `{ATTACH_PROJECT_DISK}` (add it under `flags`)",
                    node,
                    needle=ref,
                )
        elif name not in c.declared:
            known = ", ".join(sorted(c.declared)) or "none"
            c.error(
                ("cmd",),
                f"`{short(ref)}` is not declared (declared variables: {known}; a shell variable is written `$NAME`)",
                node,
                needle=ref,
            )
    return cmd
