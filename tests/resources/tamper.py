"""What any writer of the store can do to a registry entry: rewrite its JSON document."""

from __future__ import annotations

import json
from typing import Any

from airflow_provider_dsjobs.resources.registry import JsonRegistry


def rewrite_entry(registry: JsonRegistry[Any], entry_id: str, fields: dict[str, Any]) -> None:
    """Update the stored entry with ``fields``; a value of ``...`` removes that field."""
    key = registry._key(entry_id)
    entry = json.loads(registry.store.get_bytes(key))
    entry.update(fields)
    registry.store.put_bytes(key, json.dumps({k: v for k, v in entry.items() if v is not ...}).encode())
