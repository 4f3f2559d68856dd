"""``env.vars`` and ``env.docker``: variable names, registry credentials by secret only."""

from __future__ import annotations

import re

from ..errors import format_key_path
from ..model import (
    DockerImage,
    EnvVar,
    SecretRef,
)
from ..yaml_source import Node
from .checker import (
    Checker,
    Path_,
    short,
)

ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def read_env_vars(c: Checker) -> tuple[EnvVar, ...]:
    node = c.doc.root.find(("env", "vars"))
    out: list[EnvVar] = []
    names: dict[str, Path_] = {}

    def add(path: Path_, name: str, name_node: Node | None, var: EnvVar) -> None:
        if not ENV_NAME_RE.fullmatch(name):
            c.error(
                path,
                f"`{short(name)}` is not a valid environment variable name "
                "(letters, digits and `_`, not starting with a digit)",
                name_node,
            )
            return
        if name in names:
            c.error(path, f"`{name}` is set twice (also at {format_key_path(names[name])})", name_node)
            return
        names[name] = path
        out.append(var)

    if node is not None and node.kind == "map":
        for name, value in node.entries.items():
            if value.kind == "scalar":
                add(("env", "vars", name), name, node.keys.get(name), EnvVar(name, value.raw or ""))
    for i, item in enumerate(c.items(node)):
        path: Path_ = ("env", "vars", i)
        if item.kind == "scalar" and item.raw is not None:
            add(path, item.raw, item, EnvVar(item.raw, from_env=True))
        elif item.kind == "map" and len(item.entries) == 1:
            ((name, value),) = item.entries.items()
            if value.kind == "scalar":
                add(path, name, item.keys.get(name), EnvVar(name, value.raw or ""))
    return tuple(out)


def read_docker(c: Checker) -> DockerImage | None:
    node = c.doc.root.find(("env", "docker"))
    if node is None:
        return None
    if node.kind == "scalar":
        image = c.text(node)
        return DockerImage(image) if image else None
    if node.kind != "map":
        return None
    image = c.text(node.entries.get("image"))
    username = c.text(node.entries.get("username"))
    password_node = node.entries.get("password")
    password: SecretRef | None = None
    if password_node is not None and password_node.kind == "map":
        secret = c.text(password_node.entries.get("secret-id"))
        if secret:
            password = SecretRef(secret)
    if password is not None and not username:
        c.error(
            ("env", "docker", "password"),
            "a password needs a `username` too",
            c.key_node(("env", "docker", "password")),
        )
    return DockerImage(image, username or None, password) if image else None
