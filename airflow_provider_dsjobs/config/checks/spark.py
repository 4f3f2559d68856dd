"""``spark``: a connector ID, as ``connector: ID`` or ``connector: {id: ID}``."""

from __future__ import annotations

from ..model import (
    Spark,
)
from .checker import (
    Checker,
)


def read_spark(c: Checker) -> Spark | None:
    node = c.doc.root.child("spark")
    connector = c.entries(node).get("connector")
    if connector is None:
        return None
    if connector.kind == "map":
        connector = connector.entries.get("id")
    ident = c.text(connector)
    return Spark(ident) if ident else None
