"""JSON text of a stored document: ``encode(doc.to_doc())`` is what goes into the store, ``decode(data)`` the
object ``from_doc`` reads back. One format for every document: UTF-8, two-space indent, sorted keys."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def encode(doc: Mapping[str, Any]) -> bytes:
    """The stored bytes of a document's JSON object (a value JSON cannot hold is written as its ``str``)."""
    return json.dumps(doc, indent=2, sort_keys=True, default=str).encode("utf-8")


def decode(data: bytes | str) -> dict[str, Any]:
    """The JSON object stored in ``data``; ``ValueError`` (one line) when it is not JSON or not an object."""
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise ValueError(f"not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    return doc
