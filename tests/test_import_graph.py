"""The package's import graph, read from the source with ``ast``: no cycles, and imports flow one way through the
layers below (docs/howto/architecture.md). Every import counts — at module level, inside a function, under
``if TYPE_CHECKING:`` — since each is a dependency a reader of the module has to know about.

A layer may import its own modules and those of lower-ranked layers; two layers of the same rank (storage and
runtime, the CLI and the Airflow layer) may not import each other. The ``documents`` package imports nothing but
the standard library and itself."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "airflow_provider_dsjobs"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE
#: The package's own ``__init__`` (it holds only the version), in the layer table under this name.
PACKAGE_ROOT = "__init__"


@dataclass(frozen=True)
class Layer:
    name: str
    rank: int
    #: The top-level subpackages and modules of the package in this layer (``jobs``, ``settings``...).
    members: frozenset[str]


def _layer(name: str, rank: int, *members: str) -> Layer:
    return Layer(name, rank, frozenset(members))


#: Lower rank = lower layer. Every top-level module of the package is in exactly one layer.
LAYERS = (
    _layer("documents", 0, "documents"),
    _layer("config", 0, "config"),
    _layer("package", 0, PACKAGE_ROOT),
    _layer("storage", 1, "storage"),
    _layer("runtime", 1, "runtime"),
    _layer("resources", 2, "resources", "settings"),
    _layer("pyenv", 2, "pyenv"),
    _layer("jobs", 3, "jobs"),
    _layer("lab", 4, "lab"),
    _layer("cli", 5, "cli", "sdk"),
    _layer(
        "airflow",
        5,
        "hooks",
        "operators",
        "sensors",
        "triggers",
        "plugins",
        "decorators",
        "links",
        "assets",
        "exceptions",
        "get_provider_info",
        "lineage",
        "compat",
    ),
)

Graph = Mapping[str, set[str]]


def _modules(root: Path, package: str) -> dict[str, Path]:
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = [package, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _resolve(name: str, modules: Mapping[str, Path]) -> str | None:
    """The package module ``name`` refers to: itself, else the longest module prefix (``from m import Class``)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _imported(module: str, is_package: bool, node: ast.AST, modules: Mapping[str, Path], package: str) -> set[str]:
    names: list[str] = []
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:  # relative: from the module's own package upwards
            parent = module if is_package else module.rpartition(".")[0]
            for _ in range(node.level - 1):
                parent = parent.rpartition(".")[0]
            base = f"{parent}.{base}" if base else parent
        names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
    found = {_resolve(n, modules) for n in names if n == package or n.startswith(package + ".")}
    return {m for m in found if m is not None}


def import_graph(root: Path = ROOT, package: str = PACKAGE) -> dict[str, set[str]]:
    """``{module: the package modules it imports}`` for every module under ``root`` (a module's import of
    itself, as ``cli.main``'s ``__main__`` block might do, is left out)."""
    modules = _modules(root, package)
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        edges: set[str] = set()
        for node in ast.walk(tree):
            edges |= _imported(module, path.name == "__init__.py", node, modules, package)
        graph[module] = edges - {module}
    return graph


def external_imports(path: Path) -> set[str]:
    """The top-level names of what ``path`` imports from outside its package (absolute imports only)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.partition(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.partition(".")[0])
    return found


def find_cycles(graph: Graph) -> list[list[str]]:
    """One cycle (``[a, b, ..., a]``) per strongly connected group of modules that import each other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(start: str) -> None:  # Tarjan's algorithm, iterative (no recursion limit on deep graphs)
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for nxt in successors:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph.get(nxt, ())))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.add(member)
                        if member == node:
                            break
                    if len(group) > 1 or node in graph.get(node, ()):
                        groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_cycle_in(group, graph) for group in groups]


def _cycle_in(group: set[str], graph: Graph) -> list[str]:
    """A shortest cycle through the group's first module (breadth-first), to name the imports to break."""
    start = min(group)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in sorted(graph.get(node, ())):
            if nxt == start:
                return [*paths[node], start]
            if nxt in group and nxt not in paths:
                paths[nxt] = [*paths[node], nxt]
                queue.append(nxt)
    raise AssertionError(f"no cycle in {sorted(group)}")


def layer_of(module: str, layers: Iterable[Layer], package: str = PACKAGE) -> Layer | None:
    top = module[len(package) + 1 :].partition(".")[0] if module != package else PACKAGE_ROOT
    return next((layer for layer in layers if top in layer.members), None)


def layer_violations(graph: Graph, layers: Iterable[Layer], package: str = PACKAGE) -> list[str]:
    """One line per import that goes up (or across to another layer of the same rank), and per module in no
    layer."""
    layers = tuple(layers)
    problems = []
    for module in sorted(graph):
        mine = layer_of(module, layers, package)
        if mine is None:
            problems.append(f"{module} is in no layer of the table (add it to LAYERS)")
            continue
        for target in sorted(graph[module]):
            theirs = layer_of(target, layers, package)
            if theirs is None or theirs == mine or theirs.rank < mine.rank:
                continue
            where = "a higher" if theirs.rank > mine.rank else "another same-rank"
            problems.append(
                f"{module} ({mine.name}, rank {mine.rank}) imports {target} "
                f"({theirs.name}, rank {theirs.rank}): {where} layer"
            )
    return problems


# --- the package ------------------------------------------------------------------------------------------------


def test_the_package_has_no_import_cycle() -> None:
    cycles = find_cycles(import_graph())
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_imports_flow_down_the_layers() -> None:
    problems = layer_violations(import_graph(), LAYERS)
    assert not problems, "imports against the layers:\n" + "\n".join(problems)


def test_every_layer_of_the_table_exists_in_the_package() -> None:
    tops = {m[len(PACKAGE) + 1 :].partition(".")[0] or PACKAGE_ROOT for m in import_graph()} | {PACKAGE_ROOT}
    stale = sorted(member for layer in LAYERS for member in layer.members if member not in tops)
    assert not stale, f"the layer table names modules that do not exist: {stale}"


def test_documents_import_only_the_standard_library_and_themselves() -> None:
    documents = ROOT / "documents"
    graph = import_graph()
    outside = {
        module: sorted(t for t in targets if not t.startswith(f"{PACKAGE}.documents"))
        for module, targets in graph.items()
        if module.startswith(f"{PACKAGE}.documents")
    }
    assert not {m: t for m, t in outside.items() if t}, f"documents import the rest of the package: {outside}"
    for path in documents.rglob("*.py"):
        foreign = external_imports(path) - set(sys.stdlib_module_names) - {"__future__", PACKAGE}
        assert not foreign, f"{path.relative_to(ROOT.parent)} imports {sorted(foreign)}: documents are stdlib-only"


# --- the checker itself, on graphs made up to fail --------------------------------------------------------------

_TOY = "toy"
_TOY_LAYERS = (_layer("low", 0, "low"), _layer("high", 1, "high"), _layer("side", 1, "side"))


def test_the_checker_names_the_modules_of_a_cycle() -> None:
    graph = {"toy.low.a": {"toy.low.b"}, "toy.low.b": {"toy.low.c"}, "toy.low.c": {"toy.low.a"}, "toy.low.d": set()}
    assert find_cycles(graph) == [["toy.low.a", "toy.low.b", "toy.low.c", "toy.low.a"]]
    assert find_cycles({"toy.low.a": {"toy.low.b"}, "toy.low.b": set()}) == []


def test_the_checker_names_an_import_up_or_across_the_layers() -> None:
    graph = {
        "toy.low.a": {"toy.high.b"},  # up
        "toy.high.b": {"toy.low.a", "toy.side.c"},  # down (fine), across (not)
        "toy.side.c": set(),
        "toy.stray": set(),  # in no layer
    }
    assert layer_violations(graph, _TOY_LAYERS, _TOY) == [
        "toy.high.b (high, rank 1) imports toy.side.c (side, rank 1): another same-rank layer",
        "toy.low.a (low, rank 0) imports toy.high.b (high, rank 1): a higher layer",
        "toy.stray is in no layer of the table (add it to LAYERS)",
    ]


def test_the_reader_sees_imports_in_functions_under_type_checking_and_relative_ones(tmp_path: Path) -> None:
    pkg = tmp_path / _TOY
    for sub in ("low", "high"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "low" / "a.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from toy.high.b import B\n"
        "def f():\n    import toy.high.c\n"
        "from . import d\nfrom .d import thing\n"
    )
    for name in ("b", "c"):
        (pkg / "high" / f"{name}.py").write_text("from toy.low.a import f\n")
    (pkg / "low" / "d.py").write_text("thing = 1\n")
    graph = import_graph(pkg, _TOY)
    assert graph["toy.low.a"] == {"toy.high.b", "toy.high.c", "toy.low.d"}
    assert find_cycles(graph) == [["toy.high.b", "toy.low.a", "toy.high.b"]]  # one group: b, c and a
    assert [v for v in layer_violations(graph, _TOY_LAYERS, _TOY) if "no layer" not in v] == [
        "toy.low.a (low, rank 0) imports toy.high.b (high, rank 1): a higher layer",
        "toy.low.a (low, rank 0) imports toy.high.c (high, rank 1): a higher layer",
    ]
