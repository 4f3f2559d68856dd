"""Bringing a finished job's outputs (and logs) from the store to local files (``JobService.download_files``).

First every transfer is planned — ``(key, local path, size)`` for each output file, the files of each output
directory, and the three stored logs when asked — so the progress bar knows the total; then each object is
downloaded through the store (to a temporary file renamed into place). An output directory with no files is
recreated empty.
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from airflow_provider_dsjobs.jobs import logs as joblogs
from airflow_provider_dsjobs.jobs.errors import JobError, one_line
from airflow_provider_dsjobs.jobs.plan_doc import PlanDoc
from airflow_provider_dsjobs.jobs.record import JobRecord
from airflow_provider_dsjobs.jobs.stage_out import mirror
from airflow_provider_dsjobs.jobs.stats import STATS_FILE
from airflow_provider_dsjobs.jobs.store import JobStore
from airflow_provider_dsjobs.storage.base import ObjectStore, StoreError
from airflow_provider_dsjobs.storage.keys import join_key
from airflow_provider_dsjobs.storage.progress import TransferProgress

#: One planned download: ``(key, local file, size)``.
Transfer = tuple[str, Path, int]


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
    job_id = record.id
    outputs_prefix = jobs.outputs_prefix(job_id)
    transfers: list[Transfer] = []
    empty_dirs: list[Path] = []
    try:
        for out in doc.outputs:
            if out.key not in record.outputs:
                continue
            local = out.local_path
            if output_dir is not None:
                local = Path(output_dir) / Path(out.path).name
            found = plan_download(store, join_key(outputs_prefix, mirror(out.container_path)), local)
            transfers += found
            if not found:
                empty_dirs.append(local)
        if with_logs and record.logs:
            target_dir = Path(output_dir) if output_dir is not None else Path.cwd()
            prefix = jobs.logs_prefix(job_id)
            for name in (joblogs.COMBINED_FILE, joblogs.STDOUT_FILE, joblogs.STDERR_FILE, STATS_FILE):
                key = join_key(prefix, name)
                size = store.size(key)
                if size is not None or name != STATS_FILE:  # stats exist only for a job someone followed
                    transfers.append((key, target_dir / f"{job_id}.{name}", int(size or 0)))
        progress = TransferProgress("download", progress_stream) if progress_stream is not None else None
        if progress:
            progress.start(len(transfers), sum(size for _, _, size in transfers))
        for key, path, _ in transfers:
            path.parent.mkdir(parents=True, exist_ok=True)
            store.get_file(key, path, progress.update if progress else None)
        if progress:
            progress.finish()
        for path in empty_dirs:
            path.mkdir(parents=True, exist_ok=True)
    except StoreError as exc:
        raise JobError(one_line(exc)) from None
    except OSError as exc:
        raise JobError(f"cannot write {exc.filename}: {exc.strerror}") from None
    return [path for _, path, _ in transfers]


def plan_download(store: ObjectStore, key: str, local: Path) -> list[Transfer]:
    """``(key, local file, size)`` for ``key`` as a file, or for every object under ``key/`` into the
    directory ``local``."""
    size = store.size(key)
    if size is not None:
        if local.is_dir():
            raise JobError(f"cannot download output to {local}: it is a directory (move it or use --output-dir)")
        return [(key, local, size)]
    prefix = key.rstrip("/") + "/"
    return [(info.key, local.joinpath(*info.key[len(prefix) :].split("/")), info.size) for info in store.list(prefix)]
