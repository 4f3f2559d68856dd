"""Read-write s3-mounts: what the job wrote under ``/job/s3/<ID>`` goes back to the connector's bucket when it ends.

DataSphere's tip for long jobs is to save intermediate results to S3; a connector added with ``--read-write``
(or ``DSJOBS_S3_MOUNT_<ID>_MODE=rw``) makes that a matter of writing files under the mount path. At finalize —
after SUCCESS, ERROR and CANCELLED alike, since intermediate results matter most when a job did not finish —
``sync_mount`` streams the mount path out of the stopped container (``export_into``: links, devices and unsafe
names are skipped and listed) and uploads each new or changed file to ``s3://bucket/prefix/<relpath>`` with the
connector's own endpoint and credentials, resolved again by the finalizing process: they never enter the
container and are never stored (``plan.json`` keeps only the ID, the URL and where the connector came from).

"Changed" is the quick check rsync makes by default: a file whose size equals the object's and whose
modification time is not after the object's ``LastModified`` is unchanged (files copied in carry the object's
time, so an untouched one is not uploaded again); a file rewritten with the same size within the same second as
the object was last written is taken as unchanged. Files the job deleted are not deleted from the bucket.
Uploads stream through the transfer manager (multipart, bounded memory).

The result is a ``MountSync`` (``documents/mount_sync.py``) per mount in ``JobRecord.s3_sync``. A sync that fails
says why there; it ends a job that otherwise succeeded ERROR (its results did not reach the bucket) and leaves the
status and reason of an ERROR or CANCELLED job as they were.
"""

from __future__ import annotations

import tarfile
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import BinaryIO

from airflow_provider_dsjobs.documents.mount_sync import MountSync, SyncMount
from airflow_provider_dsjobs.jobs.container_export import StripFirst, export_into
from airflow_provider_dsjobs.jobs.errors import one_line
from airflow_provider_dsjobs.resources.s3_connectors import S3Source, source_store
from airflow_provider_dsjobs.runtime.base import ContainerRuntime
from airflow_provider_dsjobs.runtime.errors import ContainerNotFound, EngineUnreachable, RuntimeFailure
from airflow_provider_dsjobs.storage.base import ObjectInfo, StoreError
from airflow_provider_dsjobs.storage.outputs import OutputWriter

#: Resolves a mount's source with credentials in the finalizing process (``JobService``).
SourceResolver = Callable[[SyncMount], S3Source]


def _unchanged(existing: Mapping[str, ObjectInfo], rel: str, member: tarfile.TarInfo) -> bool:
    info = existing.get(rel)
    if info is None or info.size != member.size or info.modified is None:
        return False
    return member.mtime <= info.modified.timestamp()


def sync_mount(runtime: ContainerRuntime, cid: str, mount: SyncMount, resolve: SourceResolver) -> MountSync:
    """Upload what is new or changed under ``mount.container_path`` of the stopped container ``cid`` to the mount's
    bucket/prefix. Every failure but a lost container or engine (raised: nothing can be synced now, a later
    finalizer retries) ends up in ``MountSync.error``, with what was uploaded before it counted."""
    result = MountSync(mount.id, mount.url)
    try:
        store = source_store(replace(resolve(mount), url=mount.url))
        existing = {info.key: info for info in store.list("")}

        def wanted(relpath: str, member: tarfile.TarInfo) -> bool:
            if _unchanged(existing, relpath.partition("/")[2], member):
                result.unchanged_files += 1
                return False
            return True

        exported = export_into(
            runtime, cid, mount.container_path, "", _Counting(StripFirst(OutputWriter(store, "")), result), wanted
        )
        if exported is not None:
            result.skipped = _bounded(exported.skipped)
    except (ContainerNotFound, EngineUnreachable):
        raise
    except (RuntimeFailure, StoreError, OSError, tarfile.TarError, ValueError) as exc:
        result.error = one_line(exc)
    return result


#: How many skipped entries a record lists (a tree of links would otherwise bloat every record read).
MAX_SKIPPED_LISTED = 20


def _bounded(lines: list[str]) -> list[str]:
    if len(lines) <= MAX_SKIPPED_LISTED:
        return lines
    return [*lines[:MAX_SKIPPED_LISTED], f"... and {len(lines) - MAX_SKIPPED_LISTED} more skipped"]


class _Counting:
    """Counts each upload into the ``MountSync``."""

    def __init__(self, writer: StripFirst, result: MountSync) -> None:
        self._writer = writer
        self._result = result

    def put_stream(self, relpath: str, stream: BinaryIO) -> tuple[str, int]:
        sha, size = self._writer.put_stream(relpath, stream)
        self._result.uploaded_files += 1
        self._result.uploaded_bytes += size
        return sha, size
