"""Project datasets: read-only data a config uses by ID (``datasets:``), created from a local directory or an S3
prefix (``dsjobs dataset create``) or published by a successful job (``output-datasets``). Both kinds share one
layout, so one list shows them all::

    projects/<project>/datasets/<id>/<files...>
    projects/<project>/datasets/<id>/manifest.json    written last: a dataset without it is not (yet) created

The manifest is the commit point (``storage/outputs.py``): a reader never sees half a dataset. A created dataset's
manifest has ``job_id: null`` and ``source`` (where it came from); an output dataset's names the job.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from airflow_provider_dsjobs.config.serialize import datasets_of
from airflow_provider_dsjobs.documents.manifest import DatasetManifest, StoredFile
from airflow_provider_dsjobs.documents.record import JobRecord, utcnow
from airflow_provider_dsjobs.storage.base import ObjectStore, StoreError
from airflow_provider_dsjobs.storage.outputs import MANIFEST_NAME, OutputWriter, read_manifest_as

log = logging.getLogger(__name__)

_ID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
#: DataSphere's resource IDs are 20 lowercase letters and digits.
GENERATED_ID_LENGTH = 20


class ProjectStore(Protocol):
    """Where a project's datasets live and what reads its jobs (``jobs/store.py``'s ``JobStore``)."""

    @property
    def store(self) -> ObjectStore: ...

    @property
    def project(self) -> str: ...

    def datasets_prefix(self, dataset_id: str) -> str: ...

    def list(self) -> list[JobRecord]: ...


def read_dataset_manifest(jobs: ProjectStore, dataset_id: str) -> DatasetManifest | None:
    """The dataset's manifest; None when there is no such (committed) dataset. A corrupt one: ``StoreError``."""
    return read_manifest_as(jobs.store, jobs.datasets_prefix(dataset_id), DatasetManifest.from_doc)


class DatasetError(StoreError):
    """A dataset cannot be created, found or removed (one line)."""


@dataclass(frozen=True)
class Dataset:
    """A committed dataset, from its manifest."""

    id: str
    name: str
    size: int
    files: int
    created_at: str
    description: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    job_id: str | None = None
    source: str | None = None

    @classmethod
    def from_manifest(cls, manifest: DatasetManifest) -> Dataset:
        return cls(
            id=manifest.id,
            name=manifest.name,
            size=manifest.size,
            files=len(manifest.files),
            created_at=manifest.created_at,
            description=manifest.description,
            labels=dict(manifest.labels),
            job_id=manifest.job_id,
            source=manifest.source,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "size": self.size,
            "files": self.files,
            "created_at": self.created_at,
            "description": self.description,
            "labels": dict(self.labels),
            "job_id": self.job_id,
            "source": self.source,
        }


def new_dataset_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(GENERATED_ID_LENGTH))


class DatasetCatalog:
    """The project's datasets in the job store."""

    def __init__(self, jobs: ProjectStore) -> None:
        self.jobs = jobs
        self.store: ObjectStore = jobs.store
        self.root = jobs.datasets_prefix("x")[: -len("x/")]

    def get(self, dataset_id: str) -> Dataset | None:
        manifest = read_dataset_manifest(self.jobs, dataset_id)
        return None if manifest is None else Dataset.from_manifest(manifest)

    def all(self, on_unreadable: Callable[[str], None] = log.warning) -> list[Dataset]:
        """Every dataset whose manifest reads; one that does not (a corrupt manifest) is left out of the list
        and reported, as one line, to ``on_unreadable`` — it does not hide the others."""
        found = []
        for info in self.store.list(self.root):
            rel = info.key[len(self.root) :]
            dataset_id, _, rest = rel.partition("/")
            if rest != MANIFEST_NAME:
                continue
            try:
                dataset = self.get(dataset_id)
            except StoreError as exc:
                on_unreadable(f"dataset {dataset_id!r} left out: {exc}")
                continue
            if dataset is not None:
                found.append(dataset)
        return sorted(found, key=lambda d: d.created_at, reverse=True)

    def create(
        self,
        name: str,
        files: Iterator[tuple[str, Any]],
        *,
        source: str,
        dataset_id: str | None = None,
        description: str = "",
        labels: Mapping[str, str] | None = None,
    ) -> Dataset:
        """Upload ``files`` (``(relpath, open binary stream)`` pairs, each closed here) under a new ID, then
        commit the manifest. An ID already in use is refused before anything is written; what an interrupted
        create left under its ID (no manifest) is replaced."""
        if not name:
            raise DatasetError("a dataset needs a name (--name)")
        dataset_id = dataset_id or new_dataset_id()
        prefix = self.jobs.datasets_prefix(dataset_id)
        if self.get(dataset_id) is not None:
            raise DatasetError(f"dataset {dataset_id!r} already exists in project {self.jobs.project}")
        for leftover in list(self.store.list(prefix)):  # an earlier create that stopped before its manifest
            self.store.delete(leftover.key)
        writer = OutputWriter(self.store, prefix)
        listed: list[StoredFile] = []
        for relpath, stream in files:
            with stream:
                sha, size = writer.put_stream(relpath, stream)
            listed.append(StoredFile(relpath, sha, size))
        manifest = DatasetManifest(
            id=dataset_id,
            name=name,
            description=description,
            labels=dict(labels or {}),
            size=sum(f.size for f in listed),
            job_id=None,
            project=self.jobs.project,
            source=source,
            created_at=utcnow().isoformat(),
            files=tuple(listed),
        )
        writer.write_manifest(manifest.to_doc())
        return Dataset.from_manifest(manifest)

    def users(self, dataset_id: str) -> list[JobRecord]:
        """Jobs not yet ended whose config reads ``dataset_id``."""
        return [
            r
            for r in self.jobs.list()
            if not r.status.terminal and any(d.id == dataset_id for d in datasets_of(r.config))
        ]

    def remove(self, dataset_id: str) -> Dataset:
        """Delete a dataset: its manifest first (from then on it does not exist for readers), then its files.
        Refused while a live job uses it."""
        prefix = self.jobs.datasets_prefix(dataset_id)
        dataset = self.get(dataset_id)
        if dataset is None:
            raise DatasetError(f"no dataset {dataset_id!r} in project {self.jobs.project}")
        live = self.users(dataset_id)
        if live:
            names = ", ".join(f"{r.id} ({r.status.value})" for r in live[:5])
            raise DatasetError(f"dataset {dataset_id!r} is in use by {len(live)} running job(s): {names}")
        self.store.delete(prefix + MANIFEST_NAME)
        for info in list(self.store.list(prefix)):
            self.store.delete(info.key)
        return dataset


def directory_files(root: Path) -> Iterator[tuple[str, Any]]:
    """``(relpath, stream)`` for every regular file under ``root``, in a stable order; links are not followed."""
    if not root.is_dir():
        raise DatasetError(f"--from {root}: not a directory")
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if path.is_symlink() or not path.is_file():
                continue
            yield path.relative_to(root).as_posix(), open(path, "rb")  # noqa: SIM115 - closed by create


def store_files(source: ObjectStore) -> Iterator[tuple[str, Any]]:
    """``(relpath, stream)`` for every object of ``source`` (an S3 prefix opened as a store), streamed."""
    for info in source.list(""):
        if info.key and not info.key.endswith("/"):
            yield info.key, source.open_read(info.key)
