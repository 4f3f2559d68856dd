"""``JobRecord.working_storage``: what a job got for its ``working-storage`` (``jobs/working_storage.py`` grants
it before the container starts; ``dsjobs get`` and the job page show it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from airflow_provider_dsjobs.documents.sizes import human_size

#: Where the job sees its working storage (``jobs/plan.py``'s ``WORK_DIR``).
WORK_PATH = "/job/work"


@dataclass(frozen=True)
class StorageGrant:
    """What a job got for its ``working-storage``: ``mode`` is ``size-limit`` (its writable layer is capped at
    ``limit_bytes``), ``checked`` (no cap possible; ``free_bytes`` were free on the engine's disk at start) or
    ``unchecked`` (too little was free and ``working_storage_check`` is ``warn``)."""

    requested_bytes: int
    mode: str
    free_bytes: int | None
    limit_bytes: int | None = None
    path: str = WORK_PATH
    storage_driver: str = ""
    #: Of ``free_bytes``, what other live jobs' working storage may still write (their grant minus what they wrote).
    held_bytes: int = 0

    def describe(self) -> str:
        """One line for a person: ``100 GiB at /job/work: size limit (overlay2 on xfs), 412.3 GiB free``."""
        free = f"{human_size(self.free_bytes)} free on the engine's disk" if self.free_bytes is not None else ""
        if free and self.held_bytes:
            free += f", {human_size(self.held_bytes)} of it held by other jobs' working storage"
        how = {
            "size-limit": f"capped at {human_size(self.limit_bytes or 0)} ({self.storage_driver})",
            "checked": f"no size limit on {self.storage_driver or 'this engine'}, checked",
            "unchecked": "NOT available (working_storage_check=warn)",
        }.get(self.mode, self.mode)
        return f"working storage {human_size(self.requested_bytes)} at {self.path}: {how}" + (
            f"; {free}" if free else ""
        )

    def to_doc(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> StorageGrant:
        free, limit = doc.get("free_bytes"), doc.get("limit_bytes")
        return cls(
            requested_bytes=int(doc["requested_bytes"]),
            mode=str(doc["mode"]),
            free_bytes=None if free is None else int(free),
            limit_bytes=None if limit is None else int(limit),
            path=str(doc.get("path") or WORK_PATH),
            storage_driver=str(doc.get("storage_driver") or ""),
            held_bytes=int(doc.get("held_bytes") or 0),
        )
