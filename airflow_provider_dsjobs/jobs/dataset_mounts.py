"""The datasets a job reads by ID, as read-only volumes on its engine (``resources/dataset_volumes.py``).

``DatasetMounts.for_plan`` reads each dataset's manifest (the commit point: a dataset without one does not exist
yet) and creates the labelled volumes; ``attach`` adds them, read-only at the datasets' paths, to the job's
container spec; ``fill`` — after the container is created, before it starts — makes each volume ready: one
export from the created container tells whether it is (a warm run costs that and nothing more), else a fill
helper streams the dataset from the store into it, verified, once per engine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial

from airflow_provider_dsjobs.documents.record import JobStatus
from airflow_provider_dsjobs.jobs.errors import JobError, one_line
from airflow_provider_dsjobs.jobs.launch import ensure_volume
from airflow_provider_dsjobs.jobs.lease import abandoned_reason
from airflow_provider_dsjobs.jobs.plan import JobPlan
from airflow_provider_dsjobs.jobs.store import JobNotFound, JobStore
from airflow_provider_dsjobs.resources.dataset_volumes import DatasetFile, DatasetVolume, Filler, checked_files
from airflow_provider_dsjobs.resources.datasets import read_dataset_manifest
from airflow_provider_dsjobs.runtime.base import ContainerRuntime
from airflow_provider_dsjobs.runtime.containers import ContainerSpec
from airflow_provider_dsjobs.runtime.errors import PathNotFound
from airflow_provider_dsjobs.storage.base import StoreError


@dataclass(frozen=True)
class DatasetMounts:
    volumes: tuple[DatasetVolume, ...]

    @classmethod
    def for_plan(cls, jobs: JobStore, runtime: ContainerRuntime, plan: JobPlan) -> DatasetMounts:
        """The plan's datasets as volumes (created, empty until filled). A dataset without a manifest, or with
        a hostile one, is a ``JobError``."""
        volumes = []
        for ds in plan.datasets:
            try:
                manifest = read_dataset_manifest(jobs, ds.id)
            except StoreError as exc:
                raise JobError(one_line(exc)) from None
            if manifest is None:
                raise JobError(
                    f"dataset {ds.id!r} in project {plan.project} has no manifest: it was never completely "
                    "created (create it again)"
                )
            try:
                files = checked_files(ds.id, [DatasetFile(f.path, f.sha256, f.size) for f in manifest.files])
            except StoreError as exc:
                raise JobError(one_line(exc)) from None
            prefix = jobs.datasets_prefix(ds.id).rstrip("/") + "/"
            volumes.append(DatasetVolume(plan.project, ds.id, prefix, manifest.created_at, files, ds.container_path))
        for v in volumes:
            ensure_volume(runtime, v.name, v.labels)
        return cls(tuple(volumes))

    def attach(self, spec: ContainerSpec) -> ContainerSpec:
        """``spec`` with every dataset's volume mounted read-only at its path."""
        if not self.volumes:
            return spec
        return replace(spec, volumes={**spec.volumes, **{v.name: v.mount for v in self.volumes}})

    def fill(
        self,
        runtime: ContainerRuntime,
        jobs: JobStore,
        container_id: str,
        plan: JobPlan,
        say: Callable[[str], None],
    ) -> None:
        """Make every volume ready, looking through the created (not started) job container ``container_id``."""
        filler = Filler(runtime, jobs.store, plan.image, plan.job_id, say, holder_gone=partial(launch_gone, jobs))
        for v in self.volumes:
            filler.ensure(v, partial(_exists, runtime, container_id, v.ready_path))


def _exists(runtime: ContainerRuntime, container_id: str, path: str) -> bool:
    try:
        runtime.export(container_id, path).close()
    except PathNotFound:
        return False
    return True


def launch_gone(jobs: JobStore, job_id: str) -> bool:
    """Whether the launch of job ``job_id`` is over or dead: a fill lock it still holds was left behind. Its
    record past PREPARING (the lock goes before the container starts), or its launcher no longer beating its
    lease (``jobs/lease.py``). A job this store does not know: not known to be gone (the lock's age decides)."""
    try:
        record = jobs.load(job_id)
    except (JobNotFound, StoreError):
        return False
    if record.status not in (JobStatus.CREATING, JobStatus.PREPARING):
        return True
    return abandoned_reason(jobs, record) is not None
