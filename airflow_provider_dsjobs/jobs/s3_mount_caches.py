"""A job's read-only s3-mounts as engine-side caches (``resources/s3_cache.py``).

``S3MountCaches.for_plan`` creates the labelled volume of each read-only mount and ``attach`` mounts them
read-only at the mounts' paths; ``update`` — after the job's container is created, before it starts — brings each
cache up to date from its bucket with the mount's own credentials (in this process only). Read-write mounts are
not cached: they are copied into the container and synced back at the end as before (``jobs/s3_sync.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial

from airflow_provider_dsjobs.jobs.dataset_mounts import launch_gone
from airflow_provider_dsjobs.jobs.errors import JobError, one_line
from airflow_provider_dsjobs.jobs.launch import ensure_volume
from airflow_provider_dsjobs.jobs.plan import JobPlan, S3MountPlacement
from airflow_provider_dsjobs.jobs.store import JobStore
from airflow_provider_dsjobs.resources.s3_cache import CacheUpdater, S3CacheVolume, read_state
from airflow_provider_dsjobs.resources.s3_connectors import source_store
from airflow_provider_dsjobs.runtime.base import ContainerRuntime
from airflow_provider_dsjobs.runtime.containers import ContainerSpec
from airflow_provider_dsjobs.storage.base import StoreError


def cached(mount: S3MountPlacement) -> bool:
    """Whether the mount is served from an engine cache (read-only mounts are; read-write ones are copied)."""
    return not mount.source.read_write


@dataclass(frozen=True)
class S3MountCaches:
    mounts: tuple[tuple[S3MountPlacement, S3CacheVolume], ...]

    @classmethod
    def for_plan(cls, runtime: ContainerRuntime, plan: JobPlan, lazy: frozenset[str] = frozenset()) -> S3MountCaches:
        """The caches of the plan's read-only mounts but the ``lazy`` ones (``jobs/s3_lazy_mounts.py``)."""
        found = []
        for m in plan.s3_mounts:
            if not cached(m) or m.id in lazy:
                continue
            vol = S3CacheVolume(
                plan.project, m.id, m.source.url, m.source.endpoint_url, m.container_path, m.source.max_bytes
            )
            ensure_volume(runtime, vol.name, vol.labels)
            found.append((m, vol))
        return cls(tuple(found))

    def attach(self, spec: ContainerSpec) -> ContainerSpec:
        if not self.mounts:
            return spec
        return replace(spec, volumes={**spec.volumes, **{v.name: v.mount for _, v in self.mounts}})

    def update(
        self, runtime: ContainerRuntime, jobs: JobStore, container_id: str, plan: JobPlan, say: Callable[[str], None]
    ) -> None:
        """Bring every cache up to date, reading their state through the created job container; a lock held by
        a job whose launch is gone is taken over (``launch_gone``)."""
        gone = partial(launch_gone, jobs)
        updater = CacheUpdater(runtime, plan.image, say, job_id=plan.job_id, holder_gone=gone)
        for m, vol in self.mounts:
            try:
                result = updater.update(
                    vol, source_store(m.source), partial(read_state, runtime, container_id, vol.state_path)
                )
            except StoreError as exc:
                raise JobError(f"s3-mount {m.url}: {one_line(exc)}") from None
            say(result.describe())
