"""Read-write s3-mounts as documents (``jobs/s3_sync.py`` syncs them): ``SyncMount`` is a mount as ``plan.json``
keeps it (no credentials), ``MountSync`` how syncing it back went (``JobRecord.s3_sync``, the outputs manifest)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class SyncMount:
    """A read-write s3-mount as ``plan.json`` keeps it: no credentials. ``connector``: a registered connector (its
    credentials are looked up again at finalize), else ``DSJOBS_S3_MOUNT_<ID>`` with the store's S3 settings."""

    id: str
    url: str
    container_path: str
    connector: bool

    def to_doc(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> SyncMount:
        return cls(str(doc["id"]), str(doc["url"]), str(doc["container_path"]), bool(doc.get("connector")))


@dataclass
class MountSync:
    """How syncing one read-write mount back went: files uploaded (and their bytes), files left as they were,
    entries skipped (links, devices), and the error that stopped it, if one did."""

    id: str
    url: str
    uploaded_files: int = 0
    uploaded_bytes: int = 0
    unchanged_files: int = 0
    skipped: list[str] = field(default_factory=list)
    error: str | None = None

    def describe(self) -> str:
        what = (
            f"s3-mount {self.id}: uploaded {self.uploaded_files} new or changed file(s) ({self.uploaded_bytes} bytes) "
            f"to {self.url}, {self.unchanged_files} unchanged"
        )
        return f"{what}; sync FAILED: {self.error}" if self.error else what

    def to_doc(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> MountSync:
        return cls(
            id=str(doc["id"]),
            url=str(doc["url"]),
            uploaded_files=int(doc.get("uploaded_files") or 0),
            uploaded_bytes=int(doc.get("uploaded_bytes") or 0),
            unchanged_files=int(doc.get("unchanged_files") or 0),
            skipped=[str(s) for s in doc.get("skipped") or ()],
            error=doc.get("error") or None,
        )
