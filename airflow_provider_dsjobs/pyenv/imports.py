"""Static import analysis: which local modules and which third-party packages a job's code needs.

User code is **parsed** (``ast``), never imported or executed: running a job's top-level code on the
submitting machine (what the official CLI does through envzy) can have side effects, needs every dependency
installed, and is a security hazard on a shared Airflow worker.

Starting from the entry points, every ``import``/``from ... import`` statement (at any depth, including inside
functions) and every ``importlib.import_module("literal")``/``__import__("literal")`` call is classified by its
top-level name, in the order Python itself resolves it:

1. a built-in module (``sys.builtin_module_names``): standard library;
2. a regular module or package in the search roots (``foo.py``, ``foo/__init__.py``, an extension module):
   **local**, and followed transitively (relative imports, subpackages, ``from pkg import sub``);
3. a name in ``sys.stdlib_module_names``: standard library;
4. a name installed in the submitting environment (``is_installed``): third-party;
5. a directory ``foo/`` without ``__init__.py`` in the search roots: a local namespace package;
6. anything else: third-party (resolution decides whether it can be found).

The search roots of a script are its own directory (``sys.path[0]`` when Python runs it) and then the job
directory; those of a ``-m`` module are the job directory (the container's working directory).

Imports inside ``try:`` blocks that catch ``ImportError`` (or a broader exception), under
``if TYPE_CHECKING:``, or under a test of ``sys.version_info``/``sys.platform`` are *optional*: a third-party
name imported only optionally is not an error when it cannot be resolved.
"""

from __future__ import annotations

import ast
import importlib.machinery
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from airflow_provider_dsjobs.pyenv.entrypoints import EntryPoint
from airflow_provider_dsjobs.pyenv.errors import PyEnvError

LocalKind = Literal["module", "package", "namespace"]

_IMPORT_ERRORS = frozenset({"ImportError", "ModuleNotFoundError", "Exception", "BaseException"})
_CONDITIONAL_TESTS = ("version_info", "platform", "TYPE_CHECKING", "os.name", "sys.implementation")
_EXTENSION_SUFFIXES = tuple(importlib.machinery.EXTENSION_SUFFIXES)


@dataclass(frozen=True)
class ImportSite:
    """Where a name is imported: file, line, and whether the import is optional."""

    file: Path
    line: int
    optional: bool

    def describe(self, base_dir: Path) -> str:
        return f"{_display(self.file, base_dir)}:{self.line}"


@dataclass
class ThirdPartyImport:
    """A top-level name that is neither local nor standard library, with every place it is imported."""

    name: str
    sites: list[ImportSite] = field(default_factory=list)
    #: Full dotted names imported under it (``google.protobuf``), to pick among distributions sharing a name.
    modules: set[str] = field(default_factory=set)

    @property
    def optional(self) -> bool:
        return all(s.optional for s in self.sites)


@dataclass(frozen=True)
class LocalTop:
    """A top-level local module or package and where it was found."""

    name: str
    kind: LocalKind
    path: Path  # the .py/extension file of a module, the directory of a package


@dataclass
class ImportAnalysis:
    """The result of :func:`analyze_imports`."""

    #: Top-level local modules/packages by name.
    local_tops: dict[str, LocalTop] = field(default_factory=dict)
    #: Every local source file visited (entry scripts included), absolute.
    local_files: set[Path] = field(default_factory=set)
    #: Third-party top-level names by name.
    third_party: dict[str, ThirdPartyImport] = field(default_factory=dict)
    #: Standard-library top-level names seen (for ``generate-requirements`` and diagnostics).
    stdlib: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class _Module:
    """A local module being followed: dotted name, source file (None for a namespace package directory)."""

    name: str
    file: Path | None
    is_package: bool
    roots: tuple[Path, ...]


@dataclass(frozen=True)
class _Import:
    """One import found in a file: an absolute dotted name or a relative one (level > 0), plus the names
    taken from it with ``from``."""

    module: str
    level: int
    names: tuple[str, ...]
    line: int
    optional: bool


def _display(path: Path, base_dir: Path) -> str:
    try:
        return path.relative_to(base_dir).as_posix()
    except ValueError:
        return str(path)


def parse_source(path: Path, base_dir: Path) -> ast.Module:
    """Parse one file; a syntax error becomes a one-line :class:`PyEnvError` naming file:line."""
    shown = _display(path, base_dir)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PyEnvError(f"{shown}: cannot read: {exc.strerror or exc}") from None
    try:
        return ast.parse(data, filename=str(path))
    except SyntaxError as exc:
        line = f":{exc.lineno}" if exc.lineno else ""
        raise PyEnvError(f"{shown}{line}: invalid Python syntax: {exc.msg}") from None
    except ValueError as exc:  # null bytes and similar
        raise PyEnvError(f"{shown}: not a Python source file: {exc}") from None


def _handler_catches_import_error(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    for t in types:
        name = t.attr if isinstance(t, ast.Attribute) else t.id if isinstance(t, ast.Name) else None
        if name in _IMPORT_ERRORS:
            return True
    return False


def _literal_str(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


class _ImportCollector(ast.NodeVisitor):
    def __init__(self, package: str | None) -> None:
        self.package = package
        self.optional_depth = 0
        self.found: list[_Import] = []

    def _add(self, module: str, level: int, names: Iterable[str], line: int) -> None:
        self.found.append(_Import(module, level, tuple(names), line, self.optional_depth > 0))

    def _visit_optional(self, nodes: Iterable[ast.AST], optional: bool) -> None:
        self.optional_depth += int(optional)
        for node in nodes:
            self.visit(node)
        self.optional_depth -= int(optional)

    def visit_Try(self, node: ast.Try) -> None:
        guarded = any(_handler_catches_import_error(h) for h in node.handlers)
        self._visit_optional(node.body, guarded)
        self._visit_optional([*node.handlers, *node.orelse, *node.finalbody], guarded)

    visit_TryStar = visit_Try

    def visit_If(self, node: ast.If) -> None:
        conditional = any(key in ast.unparse(node.test) for key in _CONDITIONAL_TESTS)
        self.visit(node.test)
        self._visit_optional([*node.body, *node.orelse], conditional)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, 0, (), node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        names = tuple(a.name for a in node.names if a.name != "*")
        self._add(node.module or "", node.level, names, node.lineno)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        fname = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
        if fname in ("import_module", "__import__") and node.args:
            target = _literal_str(node.args[0])
            if target:
                level = len(target) - len(target.lstrip("."))
                package_arg = next((k.value for k in node.keywords if k.arg == "package"), None)
                if len(node.args) > 1 and fname == "import_module":
                    package_arg = node.args[1]
                if level == 0:
                    self._add(target, 0, (), node.lineno)
                elif self._package_of(package_arg):
                    self.found.append(_Import(target[level:], level, (), node.lineno, self.optional_depth > 0))
        self.generic_visit(node)

    def _package_of(self, node: ast.expr | None) -> bool:
        """Relative ``import_module`` is followed only when its package is this module's own package."""
        if node is None or self.package is None:
            return False
        literal = _literal_str(node)
        if literal is not None:
            return literal == self.package
        return isinstance(node, ast.Name) and node.id in ("__package__", "__name__")


class _Analyzer:
    def __init__(self, base_dir: Path, is_installed: Callable[[str], bool] | None) -> None:
        self.base_dir = base_dir
        self.is_installed = is_installed
        self.result = ImportAnalysis()
        self.visited: set[tuple[str, Path | None]] = set()
        self.queue: list[tuple[_Module, Path]] = []

    # -- locating ---------------------------------------------------------------------------------------------

    @staticmethod
    def _regular_in(directory: Path, name: str) -> tuple[Path, bool] | None:
        """``(file, is_package)`` of a regular module/package ``name`` directly in ``directory``."""
        if not name.isidentifier():
            return None
        init = directory / name / "__init__.py"
        if init.is_file():
            return init, True
        source = directory / f"{name}.py"
        if source.is_file():
            return source, False
        for suffix in _EXTENSION_SUFFIXES:
            ext = directory / f"{name}{suffix}"
            if ext.is_file():
                return ext, False
        return None

    def _classify_top(self, name: str, roots: Sequence[Path]) -> LocalTop | Literal["stdlib", "third-party"]:
        if name in sys.builtin_module_names or name == "__future__":
            return "stdlib"
        for root in roots:
            found = self._regular_in(root, name)
            if found is not None:
                file, is_package = found
                return LocalTop(name, "package" if is_package else "module", file.parent if is_package else file)
        if name in sys.stdlib_module_names:
            return "stdlib"
        if self.is_installed is not None and self.is_installed(name):
            return "third-party"
        for root in roots:
            if name.isidentifier() and (root / name).is_dir():
                return LocalTop(name, "namespace", root / name)
        return "third-party"

    # -- following ----------------------------------------------------------------------------------------------

    def _enqueue(self, module: _Module, origin: Path) -> None:
        key = (module.name, module.file)
        if key in self.visited:
            return
        self.visited.add(key)
        if module.file is not None and module.file.suffix == ".py":
            self.result.local_files.add(module.file)
            self.queue.append((module, origin))

    def _follow_local(self, dotted: str, top: LocalTop, roots: tuple[Path, ...], origin: Path) -> bool:
        """Follow ``dotted`` (whose first part is ``top``) through every package on the way.
        Returns whether the last part was found as a module or package."""
        self.result.local_tops.setdefault(top.name, top)
        parts = dotted.split(".")
        directory = top.path if top.kind != "module" else None
        if top.kind == "module":
            self._enqueue(_Module(top.name, top.path, False, roots), origin)
            return len(parts) == 1
        if top.kind == "package":
            self._enqueue(_Module(top.name, top.path / "__init__.py", True, roots), origin)
        for i, part in enumerate(parts[1:], start=2):
            assert directory is not None
            name = ".".join(parts[:i])
            found = self._regular_in(directory, part)
            if found is not None:
                file, is_package = found
                self._enqueue(_Module(name, file, is_package, roots), origin)
                if not is_package:
                    return i == len(parts)
                directory = file.parent
            elif part.isidentifier() and (directory / part).is_dir():
                directory = directory / part  # a namespace subpackage
            else:
                return False
        return True

    def _record_third_party(self, dotted: str, site: ImportSite) -> None:
        top = dotted.split(".")[0]
        entry = self.result.third_party.setdefault(top, ThirdPartyImport(top))
        entry.sites.append(site)
        entry.modules.add(dotted)

    def _absolute(self, dotted: str, names: Sequence[str], roots: tuple[Path, ...], site: ImportSite) -> None:
        if not dotted:
            return
        top = dotted.split(".")[0]
        kind = self._classify_top(top, roots)
        if kind == "stdlib":
            self.result.stdlib.add(top)
        elif kind == "third-party":
            self._record_third_party(dotted, site)
        else:
            if self._follow_local(dotted, kind, roots, site.file):
                for name in names:  # from pkg import sub: sub may be a submodule
                    self._follow_local(f"{dotted}.{name}", kind, roots, site.file)

    def _relative(self, imp: _Import, module: _Module, site: ImportSite) -> None:
        if not module.name or module.name == "__main__":
            return  # a relative import in a script fails at run time; nothing to follow
        package_parts = module.name.split(".") if module.is_package else module.name.split(".")[:-1]
        if imp.level - 1 > len(package_parts) - 1 or not package_parts:
            if imp.optional:
                return
            raise PyEnvError(f"{site.describe(self.base_dir)}: relative import goes beyond the top-level package")
        base = package_parts[: len(package_parts) - (imp.level - 1)]
        dotted = ".".join([*base, imp.module] if imp.module else base)
        self._absolute(dotted, imp.names, module.roots, site)

    def _process(self, module: _Module) -> None:
        assert module.file is not None
        tree = parse_source(module.file, self.base_dir)
        package = module.name if module.is_package else module.name.rpartition(".")[0] or None
        if module.name == "__main__":
            package = None
        collector = _ImportCollector(package)
        collector.visit(tree)
        for imp in collector.found:
            site = ImportSite(module.file, imp.line, imp.optional)
            if imp.level:
                self._relative(imp, module, site)
            else:
                self._absolute(imp.module, imp.names, module.roots, site)

    def run(self, entry_points: Sequence[EntryPoint], command_site: Path) -> ImportAnalysis:
        for entry in entry_points:
            if entry.kind == "file":
                path = Path(os.path.normpath(self.base_dir / entry.value))
                if not path.is_file():
                    raise PyEnvError(
                        f"entry script '{entry.value}' was not found in the job directory {self.base_dir} "
                        "(set env.python.root-paths to the scripts the job runs)"
                    )
                roots = tuple(dict.fromkeys((path.parent, self.base_dir)))
                self.result.local_files.add(path)
                self.visited.add(("__main__", path))
                self.queue.append((_Module("__main__", path, False, roots), path))
            else:
                site = ImportSite(command_site, 0, entry.optional)
                self._absolute(entry.value, (), (self.base_dir,), site)
                top = self.result.local_tops.get(entry.value.split(".")[0])
                if top is not None and top.kind != "module":  # python -m pkg runs pkg/__main__.py
                    self._follow_local(f"{entry.value}.__main__", top, (self.base_dir,), command_site)
        while self.queue:
            module, _origin = self.queue.pop(0)
            self._process(module)
        return self.result


def analyze_imports(
    entry_points: Sequence[EntryPoint],
    base_dir: Path,
    *,
    is_installed: Callable[[str], bool] | None = None,
    command_site: Path | None = None,
) -> ImportAnalysis:
    """Follow the imports of ``entry_points`` (relative to ``base_dir``, the job directory).

    ``is_installed(name)`` tells whether a top-level name is importable from the submitting environment; it
    decides between a local namespace directory and an installed package of the same name. ``command_site``
    names the config file in messages about ``-m`` modules. Raises :class:`PyEnvError` for a missing entry
    script or a syntax error; unresolvable third-party names are left for :mod:`.resolve` to judge.
    """
    base = base_dir.resolve()
    return _Analyzer(base, is_installed).run(entry_points, command_site or base / "config.yaml")
