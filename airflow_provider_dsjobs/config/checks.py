"""Semantic checks and the build of :class:`~.model.JobConfig` from a located YAML tree.

The JSON schema has already judged the shape; this module reads values *as written* (``Node.raw``) and
checks what a schema cannot: one namespace for variables and resource IDs, ``${VAR}`` references in ``cmd``,
paths inside the job directory, files that must exist, sizes and durations, exclusive options.

It is defensive: a node of the wrong type (already reported by the schema) is skipped, never trusted.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Literal

from .errors import PathPart, Problem, format_key_path
from .instance_types import KNOWN_INSTANCE_TYPES
from .model import (
    ATTACH_PROJECT_DISK,
    DEFAULT_INSTANCE_TYPE,
    RESERVED_VAR,
    DockerImage,
    Env,
    EnvVar,
    GracefulShutdown,
    JobConfig,
    OutputDataset,
    PathEntry,
    PipOptions,
    PythonEnv,
    ResourceEntry,
    SecretRef,
    Spark,
    WorkingStorage,
)
from .units import SIZE_HELP, format_size, parse_duration, parse_size
from .yaml_source import Document, Node

VAR_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,50}")
VAR_NAME_ALLOWED = "1 to 50 characters: letters, digits, `_` or `-`"
ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: ``${NAME}`` in ``cmd``; no braces inside, so ``${A} ${B}`` never becomes one reference.
CMD_VAR_RE = re.compile(r"\$\{([^{}]*)\}")
KNOWN_FLAGS = (ATTACH_PROJECT_DISK,)
SIGNALS = ("SIGTERM", "SIGINT", "SIGHUP", "SIGUSR1", "SIGUSR2")
WORKING_STORAGE_MIN_GB = 100
WORKING_STORAGE_MAX_GB = 10 * 1024
PYTHON_VERSION_RE = re.compile(r"3\.(\d+)(\.\d+)?")
MANUAL_ONLY_KEYS = ("version", "requirements-file", "local-paths")

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
    problems: list[tuple[Path_, Problem]] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    declared: dict[str, _Declared] = field(default_factory=dict)

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
            self.error(path, f"`{_short(name)}` is not a valid {what} ({VAR_NAME_ALLOWED})", node)
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


def _short(s: str, limit: int = 60) -> str:
    return s if len(s) <= limit else s[: limit - 3] + "..."


def current_python_version() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


# ---- entries: inputs / outputs / s3-mounts / datasets --------------------------------------------------------
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
    """Why a var-less path may not be used, or None: it must be relative and stay inside the job directory."""
    if p.startswith(("/", "\\")) or PureWindowsPath(p).is_absolute() or re.match(r"[A-Za-z]:", p):
        return "is absolute; a path without a variable must be relative to the job directory (or give it a variable)"
    depth = 0
    for part in PurePosixPath(p.replace("\\", "/")).parts:
        if part == "..":
            depth -= 1
            if depth < 0:
                return "leaves the job directory (`..`); keep it inside, or give the entry a variable"
        elif part != ".":
            depth += 1
    return None


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def _local(c: Checker, p: str) -> Path:
    path = Path(p)
    return path if path.is_absolute() else c.base_dir / path


def _check_unique_and_nested(c: Checker, section: str, entries: list[_Entry]) -> None:
    seen: list[tuple[PurePosixPath, _Entry]] = []
    for e in entries:
        normalized = PurePosixPath(os.path.normpath(str(_local(c, e.target))).replace("\\", "/"))
        for other_path, other in seen:
            if normalized == other_path:
                c.error(
                    e.path,
                    f"`{e.target}` is listed twice (also at {c.where(other.path, other.target_node)})",
                    e.target_node,
                )
                break
            if normalized.is_relative_to(other_path):
                c.error(
                    e.path,
                    f"`{e.target}` is inside `{other.target}` ({c.where(other.path, other.target_node)});"
                    " list only one of them",
                    e.target_node,
                )
                break
            if other_path.is_relative_to(normalized):
                c.error(
                    e.path,
                    f"`{e.target}` contains `{other.target}` ({c.where(other.path, other.target_node)});"
                    " list only one of them",
                    e.target_node,
                )
                break
        seen.append((normalized, e))


def _path_entries(c: Checker, section: str) -> tuple[PathEntry, ...]:
    out: list[PathEntry] = []
    good: list[_Entry] = []
    for e in _entries(c, section):
        ok = True
        if e.var is not None and e.var_node is not None:
            if c.check_var_name(e.var_path, e.var, e.var_node):
                c.declare(e.var_path, e.var, e.var_node)
        elif (why := _escapes(e.target)) is not None:
            c.error(e.path, f"`{_short(e.target)}` {why}", e.target_node)
            ok = False
        if ok and section == "inputs" and not _exists(_local(c, e.target)):
            c.error(e.path, f"`{_short(e.target)}` does not exist (looked in {_local(c, e.target)})", e.target_node)
        out.append(PathEntry(e.target, e.var))
        if ok:
            good.append(e)
    _check_unique_and_nested(c, section, good)
    return tuple(out)


def _resource_entries(c: Checker, section: str) -> tuple[ResourceEntry, ...]:
    out: list[ResourceEntry] = []
    for e in _entries(c, section):
        if c.check_var_name(e.path, e.target, e.target_node, "resource ID"):
            c.declare(e.path, e.target, e.target_node)
        if e.var is not None and e.var_node is not None and c.check_var_name(e.var_path, e.var, e.var_node):
            c.declare(e.var_path, e.var, e.var_node)
        out.append(ResourceEntry(e.target, e.var))
    return tuple(out)


# ---- args, cmd ---------------------------------------------------------------------------------------------
def _args(c: Checker) -> tuple[tuple[str, str], ...]:
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


def _cmd(c: Checker, flags: tuple[str, ...]) -> str | None:
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
                f"`{_short(ref)}` is not declared (declared variables: {known}; a shell variable is written `$NAME`)",
                node,
                needle=ref,
            )
    return cmd


# ---- env ---------------------------------------------------------------------------------------------------
def _env_vars(c: Checker) -> tuple[EnvVar, ...]:
    node = c.doc.root.find(("env", "vars"))
    out: list[EnvVar] = []
    names: dict[str, Path_] = {}

    def add(path: Path_, name: str, name_node: Node | None, var: EnvVar) -> None:
        if not ENV_NAME_RE.fullmatch(name):
            c.error(
                path,
                f"`{_short(name)}` is not a valid environment variable name "
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


def _docker(c: Checker) -> DockerImage | None:
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


def _string_list(c: Checker, path: Path_) -> tuple[str, ...] | None:
    node = c.doc.root.find(path)
    if node is None or node.kind != "seq":
        return None
    return tuple(i.raw for i in node.items if i.kind == "scalar" and i.raw is not None and isinstance(i.typed, str))


def _python(c: Checker) -> PythonEnv | None:
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
                f"`{_short(version_raw or '')}` is not a supported Python version (write `3.X`, e.g. `3.11`)",
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
        if not _exists(_local(c, raw_req)) or _local(c, raw_req).is_dir():
            c.error(
                (*base, "requirements-file"),
                f"`{_short(raw_req)}` was not found (looked for {_local(c, raw_req)})",
                req_node,
            )
    local_paths = _string_list(c, (*base, "local-paths")) if kind == "manual" else None
    root_paths = _string_list(c, (*base, "root-paths"))
    alias = _string_list(c, (*base, "root-path"))
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
            if not _exists(_local(c, p)):
                c.error((*base, key, i), f"`{_short(p)}` does not exist (looked in {_local(c, p)})")
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
        extra_index_urls=_string_list(c, (*base, "extra-index-urls")) or (),
        trusted_hosts=_string_list(c, (*base, "trusted-hosts")) or (),
        no_deps=no_deps,
    )


# ---- resources ---------------------------------------------------------------------------------------------
def _flags(c: Checker) -> tuple[str, ...]:
    out = []
    for i, item in enumerate(c.items(c.doc.root.child("flags"))):
        if item.kind == "scalar" and item.raw is not None:
            if item.raw not in KNOWN_FLAGS:
                c.warn(
                    ("flags", i),
                    f"unknown flag `{_short(item.raw)}` is ignored (known: {', '.join(KNOWN_FLAGS)})",
                    item,
                )
            if item.raw not in out:
                out.append(item.raw)
    return tuple(out)


def _instance_types(c: Checker) -> tuple[str, ...]:
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
        return (DEFAULT_INSTANCE_TYPE,)
    items = [(node, (key,))] if node.kind == "scalar" else [(n, (key, i)) for i, n in enumerate(c.items(node))]
    out: list[str] = []
    for item, path in items:
        name = c.text(item)
        if name is None or item.kind != "scalar":
            continue
        if name not in KNOWN_INSTANCE_TYPES:
            c.error(path, f"unknown instance type `{_short(name)}` (known: {', '.join(KNOWN_INSTANCE_TYPES)})", item)
        elif name in out:
            c.error(path, f"`{name}` is listed twice", item)
        else:
            out.append(name)
    return tuple(out) or (DEFAULT_INSTANCE_TYPE,)


def _size(c: Checker, path: Path_, node: Node | None) -> int | None:
    if node is None or node.kind != "scalar" or node.raw is None:
        return None
    if isinstance(node.typed, bool):
        return None
    try:
        return parse_size(node.typed if isinstance(node.typed, int) else node.raw)
    except ValueError as exc:
        c.error(path, str(exc), node)
        return None


def _working_storage(c: Checker) -> WorkingStorage | None:
    node = c.doc.root.child("working-storage")
    if node is None or node.kind != "map":
        return None
    kind = c.text(node.entries.get("type")) or "SSD"
    size_node = node.entries.get("size")
    size = _size(c, ("working-storage", "size"), size_node)
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


def _graceful_shutdown(c: Checker) -> GracefulShutdown | None:
    node = c.doc.root.child("graceful-shutdown")
    if node is None or node.kind != "map":
        return None
    signal = c.text(node.entries.get("signal")) or "SIGTERM"
    timeout: float | None = None
    timeout_node = node.entries.get("timeout")
    raw = c.text(timeout_node)
    if timeout_node is not None and raw and isinstance(timeout_node.typed, str):
        try:
            timeout = parse_duration(raw) or None
        except ValueError as exc:
            c.error(("graceful-shutdown", "timeout"), str(exc), timeout_node)
    return GracefulShutdown(signal=signal, timeout_seconds=timeout)


def _output_datasets(c: Checker) -> tuple[OutputDataset, ...]:
    out: list[OutputDataset] = []
    names: dict[str, tuple[Path_, Node]] = {}
    for i, item in enumerate(c.items(c.doc.root.child("output-datasets"))):
        path: Path_ = ("output-datasets", i)
        if item.kind != "map":
            continue
        name_node, var_node = item.entries.get("name"), item.entries.get("var")
        name, var = c.text(name_node), c.text(var_node)
        size = _size(c, (*path, "size"), item.entries.get("size"))
        if size is not None and size <= 0:
            c.error((*path, "size"), f"must be more than zero ({SIZE_HELP})", item.entries.get("size"))
        if name is not None and name_node is not None:
            if not name.strip():
                c.error((*path, "name"), "is empty (give the dataset a name)", name_node)
            elif name in names:
                other_path, other_node = names[name]
                c.error(
                    (*path, "name"),
                    f"dataset name `{name}` is already used at {c.where(other_path, other_node)}"
                    " (names must be unique)",
                    name_node,
                )
            else:
                names[name] = ((*path, "name"), name_node)
        if var is not None and var_node is not None and c.check_var_name((*path, "var"), var, var_node):
            c.declare((*path, "var"), var, var_node)
        labels_node = item.entries.get("labels")
        labels = tuple((k, v.raw or "") for k, v in c.entries(labels_node).items() if v.kind == "scalar")
        description = c.text(item.entries.get("description")) or ""
        if name is not None and var is not None and size is not None:
            out.append(OutputDataset(name=name, var=var, size_bytes=size, description=description, labels=labels))
    return tuple(out)


def _spark(c: Checker) -> Spark | None:
    node = c.doc.root.child("spark")
    connector = c.entries(node).get("connector")
    if connector is None:
        return None
    if connector.kind == "map":
        connector = connector.entries.get("id")
    ident = c.text(connector)
    return Spark(ident) if ident else None


# ---- the whole config ----------------------------------------------------------------------------------------
def build_config(doc: Document, base_dir: Path) -> tuple[JobConfig | None, Checker]:
    """Check ``doc`` and build the model; the checker holds problems (the model is None when there are any)."""
    c = Checker(doc, base_dir)
    root = doc.root
    if root.kind != "map":
        return None, c
    name_node, desc_node = root.child("name"), root.child("desc")
    inputs = _path_entries(c, "inputs")
    outputs = _path_entries(c, "outputs")
    s3_mounts = _resource_entries(c, "s3-mounts")
    datasets = _resource_entries(c, "datasets")
    args = _args(c)
    output_datasets = _output_datasets(c)
    flags = _flags(c)
    cmd = _cmd(c, flags)
    env_node = root.child("env")
    env = Env()
    if env_node is not None and env_node.kind == "map":
        env = Env(vars=_env_vars(c), docker=_docker(c), python=_python(c))
    instance_types = _instance_types(c)
    working_storage = _working_storage(c)
    graceful = _graceful_shutdown(c)
    spark = _spark(c)
    if cmd is None or c.problems:
        return None, c
    config = JobConfig(
        cmd=cmd,
        name=c.text(name_node),
        desc=c.text(desc_node),
        args=args,
        inputs=inputs,
        outputs=outputs,
        s3_mounts=s3_mounts,
        datasets=datasets,
        env=env,
        flags=flags,
        cloud_instance_types=instance_types,
        working_storage=working_storage,
        graceful_shutdown=graceful,
        output_datasets=output_datasets,
        spark=spark,
        base_dir=base_dir,
        source=doc.source,
        raw_text=doc.text,
    )
    return config, c
