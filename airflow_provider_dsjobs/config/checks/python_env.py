"""``env.python``: ``auto`` or ``type: auto|manual``, version, requirements, local/root paths, pip."""

from __future__ import annotations

import re
from typing import Literal

from ..model import (
    PipOptions,
    PythonEnv,
)
from ..yaml_source import Node
from .checker import (
    Checker,
    Path_,
    current_python_version,
    exists,
    local_path,
    short,
    string_list,
)

PYTHON_VERSION_RE = re.compile(r"3\.(\d+)(\.\d+)?")
MANUAL_ONLY_KEYS = ("version", "requirements-file", "local-paths")
#: ``type: manual`` must give at least one of these (seed 002: "you must specify at least one parameter").
MANUAL_PARAMETERS = ("version", "requirements-file", "local-paths", "root-paths", "root-path", "pip")


BASE: Path_ = ("env", "python")


def read_python(c: Checker) -> PythonEnv | None:
    node = c.doc.root.find(BASE)
    if node is None or node.is_null:
        return None
    if node.kind == "scalar":
        raw = c.text(node) or ""
        if raw.lower() != "auto":
            return None  # the schema reports it
        return PythonEnv(type="auto", version=current_python_version(), version_given=False)
    if node.kind != "map":
        return None
    kind_text = c.text(node.entries.get("type"))
    if kind_text not in ("auto", "manual"):
        return None
    kind: Literal["auto", "manual"] = "auto" if kind_text == "auto" else "manual"
    _check_keys_of(c, node, kind)
    version, version_given = _version(c, node) if kind == "manual" else (current_python_version(), False)
    local_paths, root_paths = _paths(c, node, kind)
    return PythonEnv(
        type=kind,
        version=version,
        version_given=version_given,
        requirements_file=_requirements_file(c, node) if kind == "manual" else None,
        local_paths=local_paths,
        root_paths=root_paths,
        pip=_pip(c),
    )


def _check_keys_of(c: Checker, node: Node, kind: Literal["auto", "manual"]) -> None:
    """``manual`` needs a parameter; ``auto`` takes none of the manual-only keys."""
    if kind == "manual" and not any(key in node.entries for key in MANUAL_PARAMETERS):
        c.error(
            (*BASE, "type"),
            "`type: manual` needs at least one parameter: version, requirements-file, local-paths, root-paths or "
            "pip (with none, use `python: auto`)",
            node.entries.get("type"),
        )
    if kind == "auto":
        for key in MANUAL_ONLY_KEYS:
            if key in node.entries:
                c.error(
                    (*BASE, key),
                    "applies only with `type: manual` (with `type: auto` it would be ignored); "
                    "set `type: manual` or remove it",
                    c.key_node((*BASE, key)),
                )


def _version(c: Checker, node: Node) -> tuple[str, bool]:
    """``type: manual``'s version as ``3.X`` and whether it was given (else the submitting interpreter's)."""
    version_node = node.entries.get("version")
    if version_node is None or version_node.kind != "scalar":
        return current_python_version(), False
    version_raw = version_node.raw
    match = PYTHON_VERSION_RE.fullmatch(version_raw or "")
    if c.doc.text is None and isinstance(version_node.typed, float):
        # A mapping from Python code: the float 3.10 arrived as 3.1 and the text is lost.
        c.error(
            (*BASE, "version"),
            f"`{version_raw}` is a number, which loses trailing zeros (3.10 becomes 3.1); "
            "write the version as a string, e.g. '3.10'",
            version_node,
        )
    elif version_raw is None or match is None:
        c.error(
            (*BASE, "version"),
            f"`{short(version_raw or '')}` is not a supported Python version (write `3.X`, e.g. `3.11`)",
            version_node,
        )
    else:
        version = f"3.{int(match.group(1))}"
        if match.group(2):
            c.warn(
                (*BASE, "version"),
                f"Python version will be reduced to major.minor ({version_raw} -> {version})",
                version_node,
            )
        return version, True
    return current_python_version(), False


def _requirements_file(c: Checker, node: Node) -> str | None:
    """``type: manual``'s requirements file, which must exist (when files are checked)."""
    req_node = node.entries.get("requirements-file")
    raw_req = c.text(req_node)
    if not raw_req:
        return None
    if c.check_files and (not exists(local_path(c, raw_req)) or local_path(c, raw_req).is_dir()):
        c.error(
            (*BASE, "requirements-file"),
            f"`{short(raw_req)}` was not found (looked for {local_path(c, raw_req)})",
            req_node,
        )
    return raw_req


def _paths(c: Checker, node: Node, kind: Literal["auto", "manual"]) -> tuple[tuple[str, ...] | None, tuple[str, ...]]:
    """``local-paths`` (``type: manual`` only; None when not given) and ``root-paths`` (or its alias
    ``root-path``), which exclude each other; each path must exist (when files are checked)."""
    local_paths = string_list(c, (*BASE, "local-paths")) if kind == "manual" else None
    root_paths = string_list(c, (*BASE, "root-paths"))
    alias = string_list(c, (*BASE, "root-path"))
    if "root-paths" in node.entries and "root-path" in node.entries:
        c.error(
            (*BASE, "root-path"),
            "give either `root-paths` or its alias `root-path`, not both",
            c.key_node((*BASE, "root-path")),
        )
    elif alias is not None:
        root_paths = alias
    root_key = "root-path" if "root-path" in node.entries and "root-paths" not in node.entries else "root-paths"
    if local_paths is not None and root_paths and "local-paths" in node.entries:
        c.error(
            (*BASE, "local-paths"),
            f"`local-paths` and `{root_key}` exclude each other (give one of them)",
            c.key_node((*BASE, "local-paths")),
        )
    for key, paths in (("local-paths", local_paths), (root_key, root_paths)):
        for i, p in enumerate(paths or ()):
            if c.check_files and not exists(local_path(c, p)):
                c.error((*BASE, key, i), f"`{short(p)}` does not exist (looked in {local_path(c, p)})")
    return local_paths, root_paths or ()


def _pip(c: Checker) -> PipOptions:
    base: Path_ = ("env", "python", "pip")
    node = c.doc.root.find(base)
    if node is None or node.kind != "map":
        return PipOptions()
    no_deps_node = node.entries.get("no-deps")
    no_deps = False
    if no_deps_node is not None and no_deps_node.kind == "scalar":
        raw = (no_deps_node.raw or "").lower()
        no_deps = raw == "true"
    index_url = c.text(node.entries.get("index-url"))
    return PipOptions(
        index_url=index_url or None,
        extra_index_urls=string_list(c, (*base, "extra-index-urls")) or (),
        trusted_hosts=string_list(c, (*base, "trusted-hosts")) or (),
        no_deps=no_deps,
    )
