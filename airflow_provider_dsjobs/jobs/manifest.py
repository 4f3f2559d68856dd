"""Reading a job's committed output manifest (the document: ``documents/manifest.py``)."""

from __future__ import annotations

from airflow_provider_dsjobs.documents.manifest import OutputsManifest
from airflow_provider_dsjobs.jobs.store import JobStore
from airflow_provider_dsjobs.storage.outputs import read_manifest_as


def read_outputs_manifest(jobs: JobStore, job_id: str) -> OutputsManifest | None:
    """The job's committed output manifest; None until stage-out committed it. A corrupt one: ``StoreError``."""
    return read_manifest_as(jobs.store, jobs.outputs_prefix(job_id), OutputsManifest.from_doc)
