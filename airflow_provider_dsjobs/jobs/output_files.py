"""A finished job's output files as stored: what there is to browse and download, and a streaming reader.

The list comes from the committed output manifest (``storage/outputs.py``: written last, so it names every
file and only files that are complete); each file belongs to the output (its var, or its path) whose stored
location contains it. Paths are relative to the job's ``outputs/`` prefix, e.g. ``vars/RESULT/result.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from airflow_provider_dsjobs.documents.record import JobRecord
from airflow_provider_dsjobs.jobs.errors import JobError
from airflow_provider_dsjobs.jobs.manifest import read_outputs_manifest
from airflow_provider_dsjobs.storage.base import ObjectNotFound, ObjectStore
from airflow_provider_dsjobs.storage.keys import join_key

if TYPE_CHECKING:
    from airflow_provider_dsjobs.jobs.store import JobStore


@dataclass(frozen=True)
class OutputFile:
    """One stored output file: the output it belongs to (var or config path), its path under ``outputs/``,
    its size in bytes and its URI in the store."""

    output: str
    path: str
    size: int
    uri: str


def _owner(record: JobRecord, store: ObjectStore, outputs_prefix: str, path: str) -> str:
    """The output (var or config path) whose stored location is ``path`` or a directory above it."""
    uri = store.uri(join_key(outputs_prefix, path))
    for name, out_uri in record.outputs.items():
        if uri == out_uri or uri.startswith(out_uri.rstrip("/") + "/"):
            return name
    return ""


def list_output_files(jobs: JobStore, record: JobRecord) -> list[OutputFile]:
    """The job's stored output files, in manifest order; empty until the outputs are committed or after the
    job's data was cleared."""
    if record.data_cleared:
        return []
    store = jobs.store
    prefix = jobs.outputs_prefix(record.id)
    manifest = read_outputs_manifest(jobs, record.id)
    if manifest is None:
        return []
    return [
        OutputFile(
            output=_owner(record, store, prefix, f.path),
            path=f.path,
            size=f.size,
            uri=store.uri(join_key(prefix, f.path)),
        )
        for f in manifest.files
    ]


def open_output_file(jobs: JobStore, record: JobRecord, path: str) -> tuple[OutputFile, BinaryIO]:
    """A streaming reader of the output file ``path`` (as listed by ``list_output_files``); the caller closes
    it. Only listed files can be opened, so no path reaches outside the job's outputs."""
    if record.data_cleared:
        raise JobError(f"job {record.id} data is cleared")
    for item in list_output_files(jobs, record):
        if item.path == path:
            try:
                return item, jobs.store.open_read(join_key(jobs.outputs_prefix(record.id), path))
            except ObjectNotFound:
                break
    raise JobError(f"job {record.id} has no output file {path!r}")
