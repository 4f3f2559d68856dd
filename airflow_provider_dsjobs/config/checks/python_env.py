"""``env.python``: ``auto`` or ``type: auto|manual``, version, requirements, local/root paths, pip."""

from __future__ import annotations

import re
from typing import Literal

from ..model import (
    PipOptions,
    PythonEnv,
)
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


def read_python(c: Checker) -> PythonEnv | None:
    node = c.doc.root.find(("env", "python"))
    if node is None or node.is_null:
        return None
    base: Path_ = ("env", "python")
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
    if kind == "manual" and not any(key in node.entries for key in MANUAL_PARAMETERS):
        c.error(
            (*base, "type"),
            "`type: manual` needs at least one parameter: version, requirements-file, local-paths, root-paths or "
            "pip (with none, use `python: auto`)",
            node.entries.get("type"),
        )
    if kind == "auto":
        for key in MANUAL_ONLY_KEYS:
            if key in node.entries:
                c.error(
                    (*base, key),
                    "applies only with `type: manual` (with `type: auto` it would be ignored); "
                    "set `type: manual` or remove it",
                    c.key_node((*base, key)),
                )
    version = current_python_version()
    version_given = False
    version_node = node.entries.get("version")
    if kind == "manual" and version_node is not None and version_node.kind == "scalar":
        version_raw = version_node.raw
        match = PYTHON_VERSION_RE.fullmatch(version_raw or "")
        if c.doc.text is None and isinstance(version_node.typed, float):
            # A mapping from Python code: the float 3.10 arrived as 3.1 and the text is lost.
            c.error(
                (*base, "version"),
                f"`{version_raw}` is a number, which loses trailing zeros (3.10 becomes 3.1); "
                "write the version as a string, e.g. '3.10'",
                version_node,
            )
        elif version_raw is None or match is None:
            c.error(
                (*base, "version"),
                f"`{short(version_raw or '')}` is not a supported Python version (write `3.X`, e.g. `3.11`)",
                version_node,
            )
        else:
            version = f"3.{int(match.group(1))}"
            version_given = True
            if match.group(2):
                c.warn(
                    (*base, "version"),
                    f"Python version will be reduced to major.minor ({version_raw} -> {version})",
                    version_node,
                )
    requirements = None
    req_node = node.entries.get("requirements-file")
    if kind == "manual" and (raw_req := c.text(req_node)):
        requirements = raw_req
        if c.check_files and (not exists(local_path(c, raw_req)) or local_path(c, raw_req).is_dir()):
            c.error(
                (*base, "requirements-file"),
                f"`{short(raw_req)}` was not found (looked for {local_path(c, raw_req)})",
                req_node,
            )
    local_paths = string_list(c, (*base, "local-paths")) if kind == "manual" else None
    root_paths = string_list(c, (*base, "root-paths"))
    alias = string_list(c, (*base, "root-path"))
    if "root-paths" in node.entries and "root-path" in node.entries:
        c.error(
            (*base, "root-path"),
            "give either `root-paths` or its alias `root-path`, not both",
            c.key_node((*base, "root-path")),
        )
    elif alias is not None:
        root_paths = alias
    root_key = "root-path" if "root-path" in node.entries and "root-paths" not in node.entries else "root-paths"
    if local_paths is not None and root_paths and "local-paths" in node.entries:
        c.error(
            (*base, "local-paths"),
            f"`local-paths` and `{root_key}` exclude each other (give one of them)",
            c.key_node((*base, "local-paths")),
        )
    for key, paths in (("local-paths", local_paths), (root_key, root_paths)):
        for i, p in enumerate(paths or ()):
            if c.check_files and not exists(local_path(c, p)):
                c.error((*base, key, i), f"`{short(p)}` does not exist (looked in {local_path(c, p)})")
    return PythonEnv(
        type=kind,
        version=version,
        version_given=version_given,
        requirements_file=requirements,
        local_paths=local_paths,
        root_paths=root_paths or (),
        pip=_pip(c),
    )


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
