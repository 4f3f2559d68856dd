"""``manifest.json``: the commit point of a job's outputs and of a dataset, as typed values.

``storage/outputs.py`` writes a set of files and then its manifest (a JSON object) last; this module says what
that object holds: ``OutputsManifest`` under a job's ``outputs/`` (its outcome, logs, outputs and files, so a
second finalizer can bring the record to it) and ``DatasetManifest`` under ``datasets/<id>/``. Both list their
files as ``StoredFile``. ``to_json`` gives the object as it has always been stored (same keys, so the bytes
``write_manifest`` makes are unchanged) and ``from_json`` reads it back, including manifests written before this
module: ``ValueError`` (one line) when it is not one; the ``read_*`` functions raise that as ``StoreError``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from airflow_provider_dsjobs.jobs.plan import OutputPlacement
from airflow_provider_dsjobs.jobs.plan_doc import output_from_json, output_to_json
from airflow_provider_dsjobs.jobs.record import JobStatus
from airflow_provider_dsjobs.jobs.s3_sync import MountSync
from airflow_provider_dsjobs.jobs.store import JobStore
from airflow_provider_dsjobs.storage.base import StoreError
from airflow_provider_dsjobs.storage.outputs import manifest_key, read_manifest

_T = TypeVar("_T")
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

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "size": self.size}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StoredFile:
        return cls(path=str(data["path"]), sha256=str(data.get("sha256") or ""), size=int(data.get("size") or 0))


def _files(data: Any) -> tuple[StoredFile, ...]:
    return tuple(StoredFile.from_json(f) for f in data or ())


@dataclass(frozen=True)
class StoredOutput:
    """One declared output as committed: its placement and where it is stored (None when it is missing)."""

    placement: OutputPlacement
    uri: str | None

    def to_json(self) -> dict[str, Any]:
        return dict(output_to_json(self.placement), uri=self.uri)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StoredOutput:
        uri = data.get("uri")
        return cls(placement=output_from_json(data), uri=str(uri) if uri else None)


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

    def to_json(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "project": self.project,
            "status": self.status.value if self.status is not None else None,
            "status_details": self.status_details,
            "logs": self.logs,
            "data_size_bytes": self.data_size_bytes,
            "return_code": self.return_code,
            "outputs": [o.to_json() for o in self.outputs],
            "missing_outputs": list(self.missing_outputs),
            "output_datasets": dict(self.output_datasets),
            "files": [f.to_json() for f in self.files],
            "s3_sync": [m.to_dict() for m in self.s3_sync],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OutputsManifest:
        try:
            code, status = data.get("return_code"), data.get("status")
            return cls(
                job_id=str(data.get("job_id") or ""),
                project=str(data.get("project") or ""),
                status=JobStatus(status) if status is not None else None,
                status_details=data.get("status_details"),
                logs=data.get("logs"),
                data_size_bytes=int(data.get("data_size_bytes") or 0),
                return_code=int(code) if code is not None else None,
                outputs=tuple(StoredOutput.from_json(o) for o in data.get("outputs") or ()),
                missing_outputs=tuple(str(m) for m in data.get("missing_outputs") or ()),
                output_datasets={str(k): str(v) for k, v in dict(data.get("output_datasets") or {}).items()},
                files=_files(data.get("files")),
                s3_sync=tuple(MountSync.from_dict(m) for m in data.get("s3_sync") or ()),
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

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "labels": dict(self.labels),
            "size": self.size,
            "job_id": self.job_id,
            "project": self.project,
            "created_at": self.created_at,
            "files": [f.to_json() for f in self.files],
        }
        if self.source is not None:  # a created dataset's
            doc["source"] = self.source
        if self.declared_size is not None:  # an output dataset's
            doc["declared_size"] = self.declared_size
        return doc

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DatasetManifest:
        try:
            declared = data.get("declared_size")
            return cls(
                id=str(data.get("id") or ""),
                name=str(data.get("name") or ""),
                size=int(data.get("size") or 0),
                created_at=str(data.get("created_at") or ""),
                project=str(data.get("project") or ""),
                description=str(data.get("description") or ""),
                labels={str(k): str(v) for k, v in dict(data.get("labels") or {}).items()},
                job_id=data.get("job_id"),
                source=data.get("source"),
                declared_size=int(declared) if declared is not None else None,
                files=_files(data.get("files")),
            )
        except _MALFORMED as exc:
            raise _malformed(exc) from None


def read_outputs_manifest(jobs: JobStore, job_id: str) -> OutputsManifest | None:
    """The job's committed output manifest; None until stage-out committed it. A corrupt one: ``StoreError``."""
    prefix = jobs.outputs_prefix(job_id)
    data = read_manifest(jobs.store, prefix)
    return None if data is None else _parsed(jobs, prefix, OutputsManifest.from_json, data)


def read_dataset_manifest(jobs: JobStore, dataset_id: str) -> DatasetManifest | None:
    """The dataset's manifest; None when there is no such (committed) dataset. A corrupt one: ``StoreError``."""
    prefix = jobs.datasets_prefix(dataset_id)
    data = read_manifest(jobs.store, prefix)
    return None if data is None else _parsed(jobs, prefix, DatasetManifest.from_json, data)


def _parsed(jobs: JobStore, prefix: str, parse: Callable[[Mapping[str, Any]], _T], data: Mapping[str, Any]) -> _T:
    try:
        return parse(data)
    except ValueError as exc:
        raise StoreError(f"manifest {jobs.store.uri(manifest_key(prefix))} is corrupt: {exc}") from None
