"""``output-datasets``: unique names, a valid ``var`` and a size for each."""

from __future__ import annotations

from ..model import (
    OutputDataset,
)
from ..units import SIZE_HELP
from ..yaml_source import Node
from .checker import (
    Checker,
    Path_,
    size_of,
)


def read_output_datasets(c: Checker) -> tuple[OutputDataset, ...]:
    out: list[OutputDataset] = []
    names: dict[str, tuple[Path_, Node]] = {}
    for i, item in enumerate(c.items(c.doc.root.child("output-datasets"))):
        path: Path_ = ("output-datasets", i)
        if item.kind != "map":
            continue
        name_node, var_node = item.entries.get("name"), item.entries.get("var")
        name, var = c.text(name_node), c.text(var_node)
        size = size_of(c, (*path, "size"), item.entries.get("size"))
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
