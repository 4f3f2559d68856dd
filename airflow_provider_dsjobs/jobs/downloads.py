"""Bringing a finished job's outputs (and logs) from the store to local files (``JobService.download_files``).

Whoever can write the store must not be able to make a reader write outside the destination, so nothing read
from the store is used as a local path as it stands:

1. **Plan, before anything is written.** Each output's destination is derived from its config path (with
   ``--output-dir``: ``DIR/<its name>``, where the name must be a plain file name — never ``..``; without:
   the config's directory + the path, which must agree with the ``local_path`` the plan recorded). Every file
   of an output directory is placed by the validated parts of its key below the output's prefix
   (``storage.keys.local_parts``: no ``..``, no empty part, no separator of this system). Each local file is
   checked to stay inside its output's destination once symbolic links are resolved. A bad entry is refused
   with a message naming it, and nothing is downloaded.
2. **Download into temporary siblings.** Each output goes first into ``.<name>.dsjobs-partial-<random>`` next
   to its destination, so a download cut off half-way leaves every destination as it was (and the partial
   directories are removed); the error says so.
3. **Rename into place** once every file of every output has arrived: files replace what was there, files of
   an output directory are moved into the local directory (other local files in it stay), an output
   directory the job left empty is created.
"""

from __future__ import annotations

import os
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from airflow_provider_dsjobs.documents.plan_doc import WORK_DIR, OutputPlacement, PlanDoc
from airflow_provider_dsjobs.documents.record import JobRecord
from airflow_provider_dsjobs.jobs import logs as joblogs
from airflow_provider_dsjobs.jobs.errors import JobError, one_line
from airflow_provider_dsjobs.jobs.plan import OUTPUTS_DIR
from airflow_provider_dsjobs.jobs.stage_out import mirror
from airflow_provider_dsjobs.jobs.stats import STATS_FILE
from airflow_provider_dsjobs.jobs.store import JobStore
from airflow_provider_dsjobs.storage.base import ObjectStore, StoreError
from airflow_provider_dsjobs.storage.keys import join_key, local_parts
from airflow_provider_dsjobs.storage.progress import TransferProgress

#: Suffix of the temporary sibling an output is downloaded into before it is renamed into place.
PARTIAL_SUFFIX = ".dsjobs-partial"
#: The container directories outputs come from: var-less outputs and var outputs.
_CONTAINER_ROOTS = (WORK_DIR + "/", OUTPUTS_DIR + "/")


@dataclass
class _Placement:
    """One output (or the logs) to bring back: its files, relative to ``dest``, and where they land."""

    what: str  # for messages: "output 'res/out.txt'"
    dest: Path  # the local file, or the local directory
    is_dir: bool
    files: list[tuple[str, tuple[str, ...], int]] = field(default_factory=list)  # (key, parts below dest, size)
    staging: Path | None = None

    def staged(self, parts: tuple[str, ...]) -> Path:
        assert self.staging is not None
        return self.staging.joinpath(*parts) if parts else self.staging / "file"


def download_files(
    jobs: JobStore,
    record: JobRecord,
    doc: PlanDoc,
    *,
    output_dir: Path | None = None,
    with_logs: bool = False,
    progress_stream: TextIO | None = None,
) -> list[Path]:
    """Download ``record``'s outputs (as declared in its ``plan.json`` ``doc``) and, ``with_logs``, its logs;
    returns the local files written. See ``JobService.download_files`` for where each file lands."""
    store = jobs.store
    try:
        placements = [_plan_output(jobs, record, out, output_dir) for out in doc.outputs if out.key in record.outputs]
        if with_logs and record.logs:
            placements += _plan_logs(jobs, record, output_dir)
    except StoreError as exc:
        raise JobError(one_line(exc)) from None
    _fetch(store, record.id, placements, progress_stream)
    return _commit(placements)


def _refuse(record: JobRecord, what: str, why: str) -> JobError:
    return JobError(
        f"refusing to download {what} of job {record.id}: {why} (the job's store entries may have been tampered "
        "with); nothing was downloaded"
    )


def _plan_output(jobs: JobStore, record: JobRecord, out: OutputPlacement, output_dir: Path | None) -> _Placement:
    path, container_path = out.path, out.container_path
    what = f"output {path!r}"
    rel = mirror(container_path)
    if not container_path.startswith(_CONTAINER_ROOTS) or os.path.normpath(container_path) != container_path:
        raise _refuse(record, what, f"its container path {container_path!r} is not under /job/work or /job/outputs")
    if output_dir is not None:
        name = path.rstrip("/").rpartition("/")[2]
        if not _is_file_name(name):
            raise _refuse(record, what, f"its name {name!r} is not a file name, so it has no place in {output_dir}")
        dest, root = Path(output_dir) / name, Path(output_dir)
    else:
        dest = _config_destination(record, what, path, str(out.local_path))
        root = dest
    placement = plan_placement(jobs.store, join_key(jobs.outputs_prefix(record.id), rel), dest, what)
    _check_contained(record, placement, root)
    return placement


def _is_file_name(name: str) -> bool:
    try:
        return len(local_parts(name)) == 1
    except StoreError:
        return False


def _config_destination(record: JobRecord, what: str, path: str, local_path: str) -> Path:
    """Where the config puts an output: ``path`` itself when absolute, else under the config's directory; it
    must be where the plan said it would be."""
    expanded = Path(path).expanduser()
    if expanded.is_absolute():
        derived = expanded
    elif record.base_dir:
        derived = Path(record.base_dir) / expanded
    else:
        raise _refuse(record, what, "the job record does not say which directory its config was in; use --output-dir")
    if not derived.is_absolute() or os.path.normpath(local_path) != os.path.normpath(derived):
        raise _refuse(
            record, what, f"its recorded local path {local_path!r} is not where its config puts it ({derived})"
        )
    return Path(os.path.normpath(derived))


def plan_placement(store: ObjectStore, key: str, dest: Path, what: str) -> _Placement:
    """The files to download for ``key``: the object itself to the file ``dest``, or every object under
    ``key/`` into the directory ``dest`` (each placed by the validated parts of the rest of its key)."""
    size = store.size(key)
    if size is not None:
        if dest.is_dir():
            raise JobError(f"cannot download output to {dest}: it is a directory (move it or use --output-dir)")
        return _Placement(what, dest, False, [(key, (), size)])
    prefix = key.rstrip("/") + "/"
    placement = _Placement(what, dest, True)
    for info in store.list(prefix):
        try:
            parts = tuple(local_parts(info.key[len(prefix) :]))
        except StoreError as exc:
            raise JobError(
                f"refusing to download {what}: the stored file {info.key!r} under {store.url} has no safe local name"
                f" ({exc}); nothing was downloaded"
            ) from None
        placement.files.append((info.key, parts, info.size))
    if dest.exists() and not dest.is_dir() and placement.files:
        raise JobError(f"cannot download output directory to {dest}: a file is there (move it or use --output-dir)")
    return placement


def _check_contained(record: JobRecord, placement: _Placement, root: Path) -> None:
    """Every local file of ``placement`` stays inside ``root`` once existing symbolic links are resolved."""
    top = os.path.realpath(root)
    for _, parts, _ in placement.files:
        target = os.path.realpath(placement.dest.joinpath(*parts))
        if os.path.commonpath([top, target]) != top:
            where = placement.dest.joinpath(*parts)
            raise _refuse(record, placement.what, f"{where} would be written at {target}, outside {root}")


def _plan_logs(jobs: JobStore, record: JobRecord, output_dir: Path | None) -> list[_Placement]:
    target_dir = Path(output_dir) if output_dir is not None else Path.cwd()
    if not _is_file_name(f"{record.id}.log"):
        raise _refuse(record, "the logs", f"the job id {record.id!r} is not a file name")
    placements = []
    for name in (joblogs.COMBINED_FILE, joblogs.STDOUT_FILE, joblogs.STDERR_FILE, STATS_FILE):
        key = jobs.log_key(record.id, name)
        size = jobs.store.size(key)
        if size is None and name == STATS_FILE:
            continue  # stats exist only for a job someone followed
        dest = target_dir / f"{record.id}.{name}"
        if dest.is_dir():
            raise JobError(f"cannot download the logs to {dest}: it is a directory")
        placements.append(_Placement("the logs", dest, False, [(key, (), int(size or 0))]))
    return placements


def _fetch(store: ObjectStore, job_id: str, placements: list[_Placement], progress_stream: TextIO | None) -> None:
    """Download every file into its placement's temporary sibling; on any failure remove them all and raise."""
    files = [(p, key, parts, size) for p in placements for key, parts, size in p.files]
    progress = TransferProgress("download", progress_stream) if progress_stream is not None else None
    done = 0
    try:
        if progress:
            progress.start(len(files), sum(size for *_, size in files))
        for placement in placements:
            placement.dest.parent.mkdir(parents=True, exist_ok=True)
            token = secrets.token_hex(4)
            placement.staging = placement.dest.with_name(f".{placement.dest.name[:100]}{PARTIAL_SUFFIX}-{token}")
            placement.staging.mkdir()
        for placement, key, parts, _ in files:
            local = placement.staged(parts)
            local.parent.mkdir(parents=True, exist_ok=True)
            store.get_file(key, local, progress.update if progress else None)
            done += 1
        if progress:
            progress.finish()
    except BaseException as exc:
        _discard(placements)
        if not isinstance(exc, (StoreError, OSError)):
            raise
        reason = one_line(exc) if isinstance(exc, StoreError) else f"cannot write {exc.filename}: {exc.strerror}"
        raise JobError(
            f"download of job {job_id} stopped after {done} of {len(files)} file(s): {reason}; no output was changed"
            " locally (the partial copies are removed): run download-files again"
        ) from None


def _discard(placements: list[_Placement]) -> None:
    for placement in placements:
        if placement.staging is not None:
            shutil.rmtree(placement.staging, ignore_errors=True)


def _commit(placements: list[_Placement]) -> list[Path]:
    """Rename every downloaded file into place (only renames: nothing is copied any more)."""
    written: list[Path] = []
    try:
        for placement in placements:
            if not placement.is_dir:
                os.replace(placement.staged(()), placement.dest)
                written.append(placement.dest)
                continue
            placement.dest.mkdir(parents=True, exist_ok=True)
            for _, parts, _ in placement.files:
                final = placement.dest.joinpath(*parts)
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(placement.staged(parts), final)
                written.append(final)
    except OSError as exc:
        raise JobError(f"cannot write {exc.filename}: {exc.strerror}") from None
    finally:
        _discard(placements)
    return written
