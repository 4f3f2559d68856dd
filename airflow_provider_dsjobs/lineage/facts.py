"""What a job read and wrote, from its stored documents, as plain values (no OpenLineage import here).

The one place of the Airflow layer that reads the job documents for lineage: the record (inputs by content, stored
outputs, output datasets, synced s3-mounts, image, instance type, config), ``plan.json`` (the URLs of read-write
s3-mounts) and the manifests of the datasets the job read (their names). Naming follows OpenLineage's dataset
naming and the provider's asset URIs, so the graph connects:

* a dataset (read by ID or published by name): namespace ``dsjobs://<project>``, name ``datasets/<name>`` — the
  asset URI ``dsjobs://<project>/datasets/<name>`` split after its authority — with the dataset ID as its
  version; a read dataset whose manifest cannot be read is named by its ID (``datasets/<id>``);
* an s3-mount, and an output stored in an S3 store: namespace ``s3://<bucket>``, name the key or prefix
  (``/`` for a whole bucket);
* a local input, shipped by content: namespace ``dsjobs://<project>``, name ``blobs/<sha256>`` (a file) or
  ``trees/<tree id>`` (a directory); the path and var as written in the config go in the ``dsjobsData`` facet;
* an output stored in a local store: namespace ``file``, name its absolute path.

Project, dataset and path names are percent-encoded where they form a URI (as in the asset URI), never elsewhere.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_dsjobs.assets import SCHEME
from airflow_provider_dsjobs.config.serialize import datasets_of, output_datasets_of
from airflow_provider_dsjobs.documents.record import JobRecord
from airflow_provider_dsjobs.jobs.plan import PlanError, resolve_s3_source
from airflow_provider_dsjobs.jobs.plan_doc import read_plan_doc
from airflow_provider_dsjobs.resources.datasets import read_dataset_manifest
from airflow_provider_dsjobs.resources.s3_connectors import ConnectorRegistry
from airflow_provider_dsjobs.storage.base import StoreError

if TYPE_CHECKING:
    from airflow_provider_dsjobs.jobs.service import JobService

log = logging.getLogger(__name__)

#: ``DatasetFact.role`` values (the ``role`` of the ``dsjobsData`` facet).
ROLE_DATASET = "dataset"
ROLE_S3_MOUNT = "s3-mount"
ROLE_LOCAL_INPUT = "local-input"
ROLE_OUTPUT = "output"
ROLE_OUTPUT_DATASET = "output-dataset"


@dataclass(frozen=True)
class DatasetFact:
    """One dataset a job read or wrote. ``details`` are the ``dsjobsData`` facet's other fields (no secrets)."""

    namespace: str
    name: str
    role: str
    version: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class JobFacts:
    """A job as lineage tells it: what it is (job facet), how this run of it went (run facet), its data."""

    job_id: str
    project: str
    kind: str
    status: str
    status_details: str | None
    return_code: int | None
    image: str | None
    instance_type: str | None
    config_hash: str
    url: str | None
    inputs: tuple[DatasetFact, ...]
    outputs: tuple[DatasetFact, ...]

    @property
    def failed(self) -> bool:
        return self.status in ("ERROR", "CANCELLED")


def project_namespace(project: str) -> str:
    return f"{SCHEME}://{urllib.parse.quote(project, safe='')}"


def dataset_name(name: str) -> str:
    """A dataset's OpenLineage name: the asset URI's path without its leading ``/``."""
    return f"datasets/{urllib.parse.quote(name, safe='')}"


def config_hash(config: dict[str, Any]) -> str:
    """``sha256:<hex>`` of the stored config in canonical JSON: equal configs, equal hashes."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def job_facts(service: JobService, job_id: str, url_of: Callable[[JobRecord], str | None]) -> JobFacts:
    """Read job ``job_id``'s documents (``JobError``/``StoreError`` when its record cannot be read); ``url_of``
    gives the job's link (the hook's ``job_link``)."""
    return facts_of(service, service.read(job_id), url_of)


def facts_of(service: JobService, record: JobRecord, url_of: Callable[[JobRecord], str | None]) -> JobFacts:
    """The facts of the job ``record`` describes (its plan and the manifests of the datasets it read are read)."""
    return JobFacts(
        job_id=record.id,
        project=record.project,
        kind=record.kind,
        status=record.status.value,
        status_details=record.status_details,
        return_code=record.return_code,
        image=record.image,
        instance_type=record.instance_type,
        config_hash=config_hash(record.config),
        url=url_of(record),
        inputs=tuple(_inputs(service, record)),
        outputs=tuple(_outputs(record)),
    )


def _inputs(service: JobService, record: JobRecord) -> Iterator[DatasetFact]:
    namespace = project_namespace(record.project)
    for entry in datasets_of(record.config):
        yield _read_dataset(service, namespace, entry.id, entry.var)
    yield from _s3_mounts(service, record)
    for ref in record.inputs:
        prefix = "trees" if ref.kind == "dir" else "blobs"
        details = {"path": ref.path, "var": ref.var, "kind": ref.kind, "size": ref.size}
        if ref.role:
            details["kind"] = ref.role
        yield DatasetFact(namespace, f"{prefix}/{ref.sha256}", ROLE_LOCAL_INPUT, details=details)


def _read_dataset(service: JobService, namespace: str, dataset_id: str, var: str | None) -> DatasetFact:
    details: dict[str, Any] = {"datasetId": dataset_id, "var": var}
    try:
        manifest = read_dataset_manifest(service.jobs, dataset_id)
    except (StoreError, ValueError) as exc:
        log.warning("lineage: dataset %s cannot be read (%s); named by its ID", dataset_id, exc)
        manifest = None
    if manifest is None or not manifest.name:
        return DatasetFact(namespace, dataset_name(dataset_id), ROLE_DATASET, dataset_id, details)
    details["size"] = manifest.size
    return DatasetFact(namespace, dataset_name(manifest.name), ROLE_DATASET, dataset_id, details)


def _s3_mounts(service: JobService, record: JobRecord) -> Iterator[DatasetFact]:
    """Each s3-mount of the config at its bucket: a read-write one's URL from ``plan.json``, a read-only one's
    resolved again as at submit (connection, registered connector, ``DSJOBS_S3_MOUNT_<ID>``); one that no
    longer resolves is named by its ID in the project's namespace."""
    mounts = record.config.get("s3-mounts") if record.kind == "config" else None
    if not isinstance(mounts, list) or not mounts:
        return
    try:
        synced = {m.id: m.url for m in read_plan_doc(service.jobs, record.id).s3_sync}
    except StoreError as exc:
        log.warning("lineage: the plan of job %s cannot be read (%s)", record.id, exc)
        synced = {}
    for entry in mounts:
        mount_id = str(entry.get("id")) if isinstance(entry, dict) else str(entry)
        url = synced.get(mount_id) or _mount_url(service, mount_id)
        details = {"mountId": mount_id, "var": entry.get("var") if isinstance(entry, dict) else None}
        if url is None:
            yield DatasetFact(project_namespace(record.project), f"s3-mounts/{mount_id}", ROLE_S3_MOUNT, None, details)
        else:
            namespace, name = s3_dataset(url)
            yield DatasetFact(namespace, name, ROLE_S3_MOUNT, details={**details, "readWrite": mount_id in synced})


def _mount_url(service: JobService, mount_id: str) -> str | None:
    try:
        connectors = ConnectorRegistry(service.store, service.project).get
        source = resolve_s3_source(mount_id, f"s3-mount {mount_id}", service.settings, os.environ, connectors)
    except (PlanError, StoreError) as exc:
        log.warning("lineage: s3-mount %s no longer resolves (%s)", mount_id, exc)
        return None
    return source.url


def s3_dataset(url: str) -> tuple[str, str]:
    """``s3://bucket/key`` as OpenLineage names it: namespace ``s3://bucket``, name the key (``/`` for none)."""
    bucket, _, key = url.removeprefix("s3://").partition("/")
    return f"s3://{bucket}", key.strip("/") or "/"


def _stored(uri: str, project: str, key: str) -> tuple[str, str]:
    if uri.startswith("s3://"):
        return s3_dataset(uri)
    parsed = urllib.parse.urlsplit(uri)
    if parsed.scheme == "file":
        return "file", urllib.parse.unquote(parsed.path)
    return project_namespace(project), f"outputs/{key}"


def _outputs(record: JobRecord) -> Iterator[DatasetFact]:
    namespace = project_namespace(record.project)
    sizes = {d.name: d.size_bytes for d in output_datasets_of(record.config)}
    for name, dataset_id in sorted(record.output_datasets.items()):
        details = {"datasetId": dataset_id, "declaredSize": sizes.get(name)}
        yield DatasetFact(namespace, dataset_name(name), ROLE_OUTPUT_DATASET, dataset_id, details)
    for key, uri in sorted(record.outputs.items()):
        ns, name = _stored(uri, record.project, key)
        yield DatasetFact(ns, name, ROLE_OUTPUT, details={"output": key, "uri": uri})
    for sync in record.s3_sync:
        ns, name = s3_dataset(sync.url)
        details = {"mountId": sync.id, "uploadedFiles": sync.uploaded_files, "error": sync.error}
        yield DatasetFact(ns, name, ROLE_S3_MOUNT, details=details)
