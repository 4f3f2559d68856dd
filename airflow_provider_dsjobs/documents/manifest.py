"""``manifest.json``: the commit point of a job's outputs and of a dataset, as typed values.

``storage/outputs.py`` writes a set of files and then its manifest (a JSON object) last; this module says what
that object holds: ``OutputsManifest`` under a job's ``outputs/`` (its outcome, logs, outputs and files, so a
second finalizer can bring the record to it) and ``DatasetManifest`` under ``datasets/<id>/``. Both list their
files as ``StoredFile``. ``to_doc`` gives the object as it has always been stored (same keys) and ``from_doc``
reads it back, including manifests written before this module: ``ValueError`` (one line) when it is not one
(``jobs/manifest.py`` and ``resources/datasets.py`` read them from the store and raise that as ``StoreError``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_dsjobs.documents.mount_sync import MountSync
from airflow_provider_dsjobs.documents.plan_doc import OutputPlacement
from airflow_provider_dsjobs.documents.record import JobStatus

_MALFORMED = (KeyError, TypeError, ValueError, AttributeError)


def _malformed(exc: Exception) -> ValueError:
    if isinstance(exc, KeyError):
        return ValueError(f"missing key {exc}")
    return ValueError(f"malformed: {exc}")


@dataclass(frozen=True)
class StoredFile:
    """One file of a committed set: its path under the prefix, its SHA-256 and size in bytes."""

    path: str
    sha256: str
    size: int

    def to_doc(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "size": self.size}

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> StoredFile:
        return cls(path=str(doc["path"]), sha256=str(doc.get("sha256") or ""), size=int(doc.get("size") or 0))


def _files(data: Any) -> tuple[StoredFile, ...]:
    return tuple(StoredFile.from_doc(f) for f in data or ())


@dataclass(frozen=True)
class StoredOutput:
    """One declared output as committed: its placement and where it is stored (None when it is missing)."""

    placement: OutputPlacement
    uri: str | None

    def to_doc(self) -> dict[str, Any]:
        return dict(self.placement.to_doc(), uri=self.uri)

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> StoredOutput:
        uri = doc.get("uri")
        return cls(placement=OutputPlacement.from_doc(doc), uri=str(uri) if uri else None)


@dataclass(frozen=True)
class OutputsManifest:
    """A job's committed outputs and the outcome stage-out recorded with them."""

    job_id: str
    project: str
    #: None in a manifest that recorded no outcome (only its files): a finalizer then decides it itself.
    status: JobStatus | None
    status_details: str | None
    logs: str | None
    data_size_bytes: int
    return_code: int | None
    outputs: tuple[StoredOutput, ...] = ()
    missing_outputs: tuple[str, ...] = ()
    output_datasets: Mapping[str, str] = field(default_factory=dict)
    files: tuple[StoredFile, ...] = ()
    #: How each read-write s3-mount was synced back (``jobs/s3_sync.py``).
    s3_sync: tuple[MountSync, ...] = ()

    @property
    def stored_outputs(self) -> dict[str, str]:
        """``{output key: URI}`` of the outputs that were stored (a record's ``outputs``)."""
        return {o.placement.key: o.uri for o in self.outputs if o.uri}

    def to_doc(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "project": self.project,
            "status": self.status.value if self.status is not None else None,
            "status_details": self.status_details,
            "logs": self.logs,
            "data_size_bytes": self.data_size_bytes,
            "return_code": self.return_code,
            "outputs": [o.to_doc() for o in self.outputs],
            "missing_outputs": list(self.missing_outputs),
            "output_datasets": dict(self.output_datasets),
            "files": [f.to_doc() for f in self.files],
            "s3_sync": [m.to_doc() for m in self.s3_sync],
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> OutputsManifest:
        try:
            code, status = doc.get("return_code"), doc.get("status")
            return cls(
                job_id=str(doc.get("job_id") or ""),
                project=str(doc.get("project") or ""),
                status=JobStatus(status) if status is not None else None,
                status_details=doc.get("status_details"),
                logs=doc.get("logs"),
                data_size_bytes=int(doc.get("data_size_bytes") or 0),
                return_code=int(code) if code is not None else None,
                outputs=tuple(StoredOutput.from_doc(o) for o in doc.get("outputs") or ()),
                missing_outputs=tuple(str(m) for m in doc.get("missing_outputs") or ()),
                output_datasets={str(k): str(v) for k, v in dict(doc.get("output_datasets") or {}).items()},
                files=_files(doc.get("files")),
                s3_sync=tuple(MountSync.from_doc(m) for m in doc.get("s3_sync") or ()),
            )
        except _MALFORMED as exc:
            raise _malformed(exc) from None


@dataclass(frozen=True)
class DatasetManifest:
    """A committed dataset. ``job_id`` names the job that published it (None for a created one, which has a
    ``source`` instead); ``declared_size`` is the limit an output dataset was published under."""

    id: str
    name: str
    size: int
    created_at: str
    project: str
    description: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    job_id: str | None = None
    source: str | None = None
    declared_size: int | None = None
    files: tuple[StoredFile, ...] = ()

    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "labels": dict(self.labels),
            "size": self.size,
            "job_id": self.job_id,
            "project": self.project,
            "created_at": self.created_at,
            "files": [f.to_doc() for f in self.files],
        }
        if self.source is not None:  # a created dataset's
            doc["source"] = self.source
        if self.declared_size is not None:  # an output dataset's
            doc["declared_size"] = self.declared_size
        return doc

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> DatasetManifest:
        try:
            declared = doc.get("declared_size")
            return cls(
                id=str(doc.get("id") or ""),
                name=str(doc.get("name") or ""),
                size=int(doc.get("size") or 0),
                created_at=str(doc.get("created_at") or ""),
                project=str(doc.get("project") or ""),
                description=str(doc.get("description") or ""),
                labels={str(k): str(v) for k, v in dict(doc.get("labels") or {}).items()},
                job_id=doc.get("job_id"),
                source=doc.get("source"),
                declared_size=int(declared) if declared is not None else None,
                files=_files(doc.get("files")),
            )
        except _MALFORMED as exc:
            raise _malformed(exc) from None
