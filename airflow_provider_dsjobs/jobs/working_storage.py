"""``working-storage``: room for the job's working directory (``/job/work``), granted before the container starts.

DataSphere gives a job that asks for ``working-storage: {size: 150Gb}`` an extended working directory of that size
(100 GB to 10 TB) instead of the ~20 GB of its system disk. On Docker the working directory lives in the
container's writable layer, so:

* the free space of the engine's disk is measured by ``df`` in a short helper container on that engine (so it is
  the engine's disk even when the engine is remote), and the job starts only if the requested size fits; when it
  does not, the submit fails with one line naming both sizes, before any container of the job exists.
  ``working_storage_check = "warn"`` (``DSJOBS_WORKING_STORAGE_CHECK=warn``, connection extra
  ``working_storage_check``) runs such a job anyway with a warning (``unchecked``): for a laptop whose jobs
  declare DataSphere's 100 GB minimum but need far less;
* where the engine's storage driver can also cap a container's writable layer (``--storage-opt size=``: overlay2
  over xfs mounted with ``pquota``, btrfs, zfs, devicemapper, windowsfilter — read from ``docker info``), the
  job's container gets exactly the requested size (``size-limit``), so it cannot eat the space of other jobs. The
  engine is asked first with a helper container created the same way: an overlay2 over xfs without ``pquota``
  refuses the option and the job runs uncapped (``checked``), as on every other driver. (The local volume
  driver's ``size`` option needs the same xfs ``pquota``, so a separate volume would add nothing there.)

Space other live jobs were granted and have not written yet counts as taken (``held_by_others``: their label
``dsjobs.working-storage`` minus their writable layer so far), so two jobs started together do not both count
the same free space. What was granted is ``JobRecord.working_storage`` (a ``StorageGrant``), shown by
``dsjobs get``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from airflow_provider_dsjobs.documents.sizes import human_size
from airflow_provider_dsjobs.documents.storage_grant import StorageGrant
from airflow_provider_dsjobs.jobs.errors import JobError
from airflow_provider_dsjobs.runtime.base import ContainerRuntime
from airflow_provider_dsjobs.runtime.engine import EngineInfo
from airflow_provider_dsjobs.runtime.errors import EngineUnreachable, RuntimeFailure
from airflow_provider_dsjobs.runtime.helper import helper_spec, run_helper

#: Label on a job container with working storage: the bytes it was granted (what ``held_by_others`` counts).
LABEL_WORKING_STORAGE = "dsjobs.working-storage"
#: ``working_storage_check`` values: fail the submit when the space is not there, or only warn.
CHECK_MODES = ("fail", "warn")
#: Storage drivers whose containers take ``--storage-opt size=`` (overlay2 only over xfs, and only with pquota).
_SIZE_LIMIT_DRIVERS = ("btrfs", "zfs", "devicemapper", "windowsfilter")
_MEASURE_TIMEOUT = 60.0


def driver_description(info: EngineInfo) -> str:
    """``overlay2 on extfs``: the storage driver and, when it says, its backing filesystem."""
    backing = dict(info.driver_status).get("Backing Filesystem")
    return f"{info.storage_driver or 'unknown driver'}" + (f" on {backing}" if backing else "")


def can_limit_size(info: EngineInfo) -> bool:
    """Whether the storage driver may cap a container's writable layer (overlay2 needs xfs; whether that xfs has
    ``pquota`` only the engine can say, when asked)."""
    driver = info.storage_driver
    if driver in ("overlay2", "overlay"):
        return dict(info.driver_status).get("Backing Filesystem") == "xfs"
    return driver in _SIZE_LIMIT_DRIVERS


def free_bytes_from_df(lines: list[str]) -> int:
    """The ``Available`` column of ``df -Pk`` output, in bytes (``ValueError`` when the output is not that)."""
    rows = [line.split() for line in lines if line.strip()]
    if len(rows) < 2 or len(rows[-1]) < 4:
        raise ValueError(f"unexpected df output: {' | '.join(lines)[:200]!r}")
    return int(rows[-1][3]) * 1024


def measure_free_bytes(
    runtime: ContainerRuntime, image: str, labels: dict[str, str], storage_opt: dict[str, str] | None = None
) -> int:
    """The free space of the disk a container's writable layer lives on, as ``df`` in a helper container from
    ``image`` on the engine reports it (capped at the size limit when ``storage_opt`` sets one)."""
    spec = replace(helper_spec(image, ["df", "-Pk", "/"], labels, "working-storage"), storage_opt=storage_opt)
    code, lines = run_helper(runtime, spec, timeout=_MEASURE_TIMEOUT)
    if code != 0:
        raise RuntimeFailure(f"df in image {image} failed (exit {code}): {lines[-1] if lines else 'no output'}")
    try:
        return free_bytes_from_df(lines)
    except ValueError as exc:
        raise RuntimeFailure(f"df in image {image}: {exc}") from None


def held_by_others(runtime: ContainerRuntime) -> tuple[int, int]:
    """``(bytes, jobs)``: what the live job containers on the engine that were granted working storage may still
    write — each one's grant minus its writable layer so far (that part is already out of the free space)."""
    held = jobs = 0
    for container in runtime.find({LABEL_WORKING_STORAGE: None}, sizes=True):
        if container.status not in ("created", "running", "paused", "restarting"):
            continue
        try:
            granted = int(container.labels.get(LABEL_WORKING_STORAGE, ""))
        except ValueError:
            continue
        held += max(0, granted - (container.size_rw or 0))
        jobs += 1
    return held, jobs


def _refuses_size_limit(exc: RuntimeFailure) -> bool:
    text = str(exc).lower()
    return "storage-opt" in text or "storage opt" in text or "pquota" in text or "quota" in text


def grant_working_storage(
    runtime: ContainerRuntime,
    image: str,
    requested: int,
    labels: dict[str, str],
    check: str,
    say: Callable[[str], None],
) -> tuple[StorageGrant, dict[str, str] | None]:
    """Grant ``requested`` bytes of working storage to a job about to run from ``image``: the grant and the
    ``storage_opt`` its container is created with. Too little free space (with ``check == "fail"``) raises
    ``JobError`` with one line — a size limit is a cap, not a reservation, so it is checked on every engine; an
    engine that cannot be measured raises ``RuntimeFailure``."""
    info = runtime.engine_info()
    where = driver_description(info)
    try:
        free = measure_free_bytes(runtime, image, labels)
    except EngineUnreachable:
        raise
    except RuntimeFailure as exc:  # e.g. an image without df
        reason = f"working-storage: cannot measure the Docker engine's free space with df in image {image}: {exc}"
        if check != "warn":
            raise JobError(
                f"{reason}; use an image that has df, or set DSJOBS_WORKING_STORAGE_CHECK=warn to run unchecked"
            ) from None
        say(f"warning: {reason}; running unchecked (working_storage_check=warn)")
        return StorageGrant(requested, "unchecked", None, storage_driver=where), None
    held, holders = held_by_others(runtime)
    if free - held < requested:
        of_it = f", {human_size(held)} of it held by {holders} running job(s)' working storage" if held else ""
        short = (
            f"working-storage asks for {human_size(requested)} but the Docker engine's disk has {human_size(free)} "
            f"free{of_it} (storage driver {where})"
        )
        if check != "warn":
            raise JobError(
                f"{short}: free space on the engine, lower working-storage.size, or set "
                "DSJOBS_WORKING_STORAGE_CHECK=warn (connection extra working_storage_check) to run with what there is"
            )
        say(f"warning: {short}; running anyway (working_storage_check=warn)")
        return StorageGrant(requested, "unchecked", free, storage_driver=where, held_bytes=held), None
    if can_limit_size(info):
        opt = {"size": str(requested)}
        try:
            measure_free_bytes(runtime, image, labels, opt)  # the engine accepts the cap (xfs without pquota does not)
        except RuntimeFailure as exc:
            if not _refuses_size_limit(exc):
                raise
            say(f"working-storage: the engine refused a size limit ({exc}); its free space was checked instead")
        else:
            return StorageGrant(requested, "size-limit", free, requested, storage_driver=where, held_bytes=held), opt
    return StorageGrant(requested, "checked", free, storage_driver=where, held_bytes=held), None
