"""A job's lazy s3-mounts (``resources/s3_lazy.py``): which read-only mounts are lazy, their helpers started and
mounted before the job's container is created, the job's container bound to them, and the helpers stopped once
the job is over (``Transitions.discard``) or found orphaned by ``gc``.

A mount asks to be lazy (``dsjobs s3-connector add --lazy``, ``DSJOBS_S3_MOUNT_<ID>_MODE=lazy``, an Airflow
connection's ``lazy``); the engine decides: with ``DSJOBS_LAZY_MOUNTS`` off the mount is an engine cache like every
read-only one, and the job log says so in one line. With it on, a mount that cannot work fails the launch before
the job's container exists, in one line naming the setting to fix.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, replace

from airflow_provider_dsjobs.jobs.errors import JobError, one_line
from airflow_provider_dsjobs.jobs.plan import JobPlan, S3MountPlacement
from airflow_provider_dsjobs.jobs.store import JobStore
from airflow_provider_dsjobs.resources.s3_lazy import (
    LazyMount,
    LazyMountError,
    find_helpers,
    remove_empty_dirs,
    start_helper,
    stop_helper,
    wait_mounted,
)
from airflow_provider_dsjobs.runtime.base import ContainerRuntime
from airflow_provider_dsjobs.runtime.containers import ContainerSpec
from airflow_provider_dsjobs.runtime.errors import RuntimeFailure
from airflow_provider_dsjobs.runtime.helper import HELPER_LABEL
from airflow_provider_dsjobs.runtime.labels import LABEL_JOB_ID
from airflow_provider_dsjobs.settings import Settings
from airflow_provider_dsjobs.storage.base import StoreError


@dataclass(frozen=True)
class LazyMounts:
    mounts: tuple[tuple[S3MountPlacement, LazyMount], ...]

    @classmethod
    def for_plan(cls, settings: Settings, plan: JobPlan, say: Callable[[str], None]) -> LazyMounts:
        """The plan's mounts that are lazy here; one that asks to be but the engine does not allow it is said."""
        found = []
        for m in plan.s3_mounts:
            if not m.source.lazy or m.source.read_write:
                continue
            if not settings.lazy_mounts:
                say(f"s3-mount {m.id}: lazy mounts are off on this engine (DSJOBS_LAZY_MOUNTS): using the engine cache")
                continue
            found.append((m, LazyMount(plan.job_id, plan.project, m.id, m.source, settings.lazy_mount_root)))
        return cls(tuple(found))

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(m.id for m, _ in self.mounts)

    def start(
        self, runtime: ContainerRuntime, settings: Settings, network: str | None, say: Callable[[str], None]
    ) -> None:
        """Start every helper, then wait until each has mounted; any failure is one ``JobError`` line (the helpers
        started go with the job: ``Transitions.discard``)."""
        if not self.mounts:
            return
        image = settings.s3fs_image
        if not image:
            raise JobError("lazy s3-mounts are on (DSJOBS_LAZY_MOUNTS) but DSJOBS_S3FS_IMAGE names no image with s3fs")
        try:
            runtime.ensure_image(image, policy=settings.image_pull_policy)
        except RuntimeFailure as exc:
            raise JobError(
                f"lazy s3-mounts: the s3fs image {image} is not available: {one_line(exc)} (DSJOBS_S3FS_IMAGE; "
                "scripts/ensure-lazy-mounts.sh builds one)"
            ) from None
        try:
            started = [(lazy, start_helper(runtime, lazy, image, network)) for _, lazy in self.mounts]
            for lazy, cid in started:
                wait_mounted(runtime, lazy, cid)
                say(f"s3-mount {lazy.mount_id}: mounted lazily (s3fs), read-only")
        except LazyMountError as exc:
            raise JobError(str(exc)) from None

    def attach(self, spec: ContainerSpec) -> ContainerSpec:
        if not self.mounts:
            return spec
        binds = dict(spec.engine_binds)
        for m, lazy in self.mounts:
            binds.update(lazy.job_bind(m.container_path))
        return replace(spec, engine_binds=binds)


def remove_lazy_mounts(runtime: ContainerRuntime, job_id: str) -> None:
    """Stop and remove the job's helpers (s3fs unmounts); an engine failing now leaves them to ``gc``."""
    with suppress(RuntimeFailure):
        for helper in find_helpers(runtime, job_id=job_id):
            stop_helper(runtime, helper.id)


def collect_lazy_mounts(
    runtime: ContainerRuntime, jobs: JobStore, settings: Settings, *, dry_run: bool = False
) -> list[str]:
    """``gc``: the orphan helpers (``collect_lazy_helpers``), then, where lazy mounts are on, the empty mount
    directories ended jobs left on the engine host (``remove_empty_dirs``); what went (or would)."""
    removed = collect_lazy_helpers(runtime, jobs, settings.project, dry_run=dry_run)
    if settings.lazy_mounts and settings.s3fs_image and not dry_run:
        dirs = remove_empty_dirs(runtime, settings.s3fs_image, settings.lazy_mount_root, settings.project)
        removed += [f"{settings.lazy_mount_root}/{name}" for name in dirs]
    return removed


def _job_container_here(runtime: ContainerRuntime, job_id: str) -> bool:
    """Whether a job container (not a helper) of ``job_id`` exists on ``runtime``'s engine and has not stopped."""
    return any(
        HELPER_LABEL not in c.labels and c.status in ("created", "running", "paused", "restarting")
        for c in runtime.find({LABEL_JOB_ID: job_id})
    )


def collect_lazy_helpers(
    runtime: ContainerRuntime, jobs: JobStore, project: str, *, dry_run: bool = False
) -> list[str]:
    """Remove the project's helpers on this engine whose job is over or unknown (a launch or finalizer that died
    before removing them); the names of those removed (or, ``dry_run``, that would be). A helper's job always
    runs on the helper's engine: one whose job is active is left alone, whichever engine the record names, and so
    is one whose job this store does not know but whose container is still on the engine (a job of another store
    that shares the engine and the project name)."""
    removed = []
    for helper in find_helpers(runtime, project=project):
        job_id = helper.labels.get(LABEL_JOB_ID, "")
        try:
            known = bool(job_id) and jobs.exists(job_id)
            active = known and not jobs.load(job_id).status.terminal
        except StoreError:
            continue  # cannot tell: the next gc looks again
        if active or (job_id and not known and _job_container_here(runtime, job_id)):
            continue
        if not dry_run:
            with suppress(RuntimeFailure):
                stop_helper(runtime, helper.id)
        removed.append(helper.name)
    return removed
