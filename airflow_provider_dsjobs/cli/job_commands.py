"""``dsjobs`` job commands' handlers: execute, attach, fork, ls, get, logs, cancel, set-data-ttl, download-files,
clear, gc (their arguments are in ``arguments/jobs.py``).

Every command takes ``--store URL`` (else ``DSJOBS_STORE``), ``--docker-url`` (else ``DSJOBS_DOCKER_URL`` /
``DOCKER_HOST``) and ``--project`` (else ``DSJOBS_PROJECT``).

Output conventions: the job's stdout lines go to stdout and its stderr lines to stderr, unchanged; the CLI's own
messages (job id, staging, status) go to stderr, so ``dsjobs execute -c cfg > out.txt`` captures exactly the
program's output. ``ls``/``get`` print a table or JSON (``--format json``; ``get`` prints one object, ``ls``
always a list — unlike DataSphere, which prints a bare object for a one-job list).

Ctrl+C during ``execute``/``attach``/``fork``: the first one cancels the job gracefully (its ``graceful-shutdown``
signal and timeout; a kill when it has none) and waits for outputs and logs to be collected; a second one kills
at once. The exit code is then 130. A failed job exits 1 after its outputs are brought back.

Scripts written for the official CLI run by changing the program name: these commands also answer under
``dsjobs project job ...`` (``list`` for ``ls``), ``-p/--project-id`` names the project, ``-o/--output`` writes
``execute``/``fork``'s ``{"job_id": ...}`` or ``ls``/``get``'s output to a file, and ``fork`` takes
``--docker-image-id``, ``--docker-image-username``, ``--docker-image-password-secret-id`` and
``--working-storage-type/-size``.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from typing import Any

from airflow_provider_dsjobs.cli.errors import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, CommandError
from airflow_provider_dsjobs.config.overrides import Overrides
from airflow_provider_dsjobs.documents.record import JobRecord, JobStatus
from airflow_provider_dsjobs.documents.sizes import human_size
from airflow_provider_dsjobs.jobs.links import console_link
from airflow_provider_dsjobs.jobs.progress import Progress
from airflow_provider_dsjobs.jobs.query import MAX_PAGE, JobQuery, parse_statuses
from airflow_provider_dsjobs.jobs.service import EngineLost, GcReport, JobError, JobService
from airflow_provider_dsjobs.runtime.engine import InsecureEngine, engine_tls
from airflow_provider_dsjobs.runtime.errors import RuntimeFailure
from airflow_provider_dsjobs.settings import Settings

_TABLE_COLUMNS = ("id", "name", "status", "created_at", "finished_at", "return_code", "data_expires_at")


# -- helpers -----------------------------------------------------------------------------------------------


def settings_from_args(args: argparse.Namespace) -> Settings:
    try:
        settings = Settings.from_env()
    except ValueError as exc:  # e.g. DSJOBS_IMAGE_PULL_POLICY=sometimes
        raise CommandError(f"invalid environment: {exc}", EXIT_USAGE) from None
    changes: dict[str, Any] = {}
    if getattr(args, "store", None):
        changes["store_url"] = args.store
    if getattr(args, "docker_url", None):
        changes["docker_url"] = args.docker_url
    if getattr(args, "project", None):
        changes["project"] = args.project
    if getattr(args, "pull", None):
        changes["image_pull_policy"] = args.pull
    if getattr(args, "python_interpreter", None):
        changes["python_interpreter"] = args.python_interpreter
    return dataclasses.replace(settings, **changes) if changes else settings


def _service(args: argparse.Namespace) -> JobService:
    settings = settings_from_args(args)
    try:
        engine_tls(settings)  # a tcp:// engine without TLS (not explicitly allowed) is a usage error
    except InsecureEngine as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    except RuntimeFailure:
        pass  # anything else about the engine is reported when it is reached, as before
    return JobService(settings)


@contextmanager
def _job_error_into_command_error(job_id: str | None = None) -> Iterator[None]:
    """Turn the core's one-line errors into ``CommandError`` (a lost engine says how to pick ``job_id`` up)."""
    try:
        yield
    except EngineLost as exc:
        raise (_engine_lost(job_id, exc) if job_id else CommandError(str(exc))) from None
    except JobError as exc:
        raise CommandError(str(exc)) from None


def _info(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _sink(stream: str, line: str) -> None:
    out = sys.stderr if stream == "stderr" else sys.stdout
    out.write(line if line.endswith("\n") else line + "\n")
    out.flush()


def _record_row(record: JobRecord) -> dict[str, Any]:
    data = record.to_doc()
    row = {k: data.get(k) for k in _TABLE_COLUMNS}
    if row["data_expires_at"] is None:
        row["data_expires_at"] = "Never"
    return row


def _print_table(rows: list[dict[str, Any]], columns: Sequence[str] = _TABLE_COLUMNS) -> None:
    cols = list(columns)
    cells = [[("" if r.get(c) is None else str(r.get(c))) for c in cols] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(cols)]
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip())
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def _public(record: JobRecord) -> dict[str, Any]:
    """The record as printed by ``get --format json``: everything except the raw config text."""
    data = record.to_doc()
    data.pop("raw_config", None)
    return data


def job_link(settings: Settings, record: JobRecord) -> str | None:
    """The job's page from ``DSJOBS_CONSOLE_URL`` (a template with ``{job_id}`` and ``{project}``), if set."""
    return console_link(settings, record)


def _finish(service: JobService, record: JobRecord, *, download: bool = True) -> int:
    """Bring outputs back and turn the terminal record into an exit code."""
    if download and record.outputs:
        try:
            paths = service.download_files(record.id, progress_stream=sys.stderr)
            if paths:
                _info(f"downloaded {len(paths)} output file(s)")
        except JobError as exc:
            _info(f"dsjobs: warning: outputs were not downloaded: {exc}")
    if record.missing_outputs:
        _info("some outputs were not written by the job: " + ", ".join(record.missing_outputs))
    if record.output_datasets:
        _info("Created datasets:")  # DataSphere's form
        for ds_id, name, size in service.output_datasets(record):
            _info(f"  * {ds_id} ({name}) size: {'unknown' if size is None else human_size(size)}")
    for synced in record.s3_sync:
        _info(synced.describe())
    link = job_link(service.settings, record)
    if link:
        _info(f"job link: {link}")
    if record.status == JobStatus.SUCCESS:
        _info(f"job {record.id} finished: SUCCESS")
        return EXIT_OK
    reason = record.status_details or record.status.value
    _info(f"job {record.id} finished: {record.status.value}: {reason}")
    return EXIT_FAILURE


def _engine_lost(job_id: str, exc: EngineLost) -> CommandError:
    """One line for a job whose engine stopped answering: its state is unknown, and how to pick it up again."""
    return CommandError(
        f"{exc}; the state of job {job_id} is unknown until the engine is back: then `dsjobs attach --id {job_id}`"
        f" follows it again (or `dsjobs get --id {job_id}` settles it)"
    )


def _watch(service: JobService, job_id: str) -> int:
    """Wait for a job with live output; Ctrl+C cancels gracefully, a second Ctrl+C kills."""
    try:
        record = service.wait(job_id, log=_sink)
    except EngineLost as exc:
        raise _engine_lost(job_id, exc) from None
    except KeyboardInterrupt:
        _info(f"interrupted: cancelling job {job_id} gracefully (Ctrl+C again to kill)")
        try:
            record = service.cancel(job_id, graceful=True)
        except KeyboardInterrupt:
            _info(f"killing job {job_id}")
            record = service.cancel(job_id, graceful=False)
        _finish(service, record)
        return EXIT_INTERRUPTED
    return _finish(service, record)


# -- commands ----------------------------------------------------------------------------------------------


def _load_config(path: str) -> Any:
    from airflow_provider_dsjobs.config import ConfigError, load_config

    try:
        return load_config(Path(path))
    except ConfigError as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"cannot read config {path}: {exc.strerror or exc}") from None


def cmd_execute(args: argparse.Namespace) -> int:
    config = _load_config(args.config)
    service = _service(args)
    with _job_error_into_command_error():
        record = service.submit(config, notify=_info, progress_stream=sys.stderr)
        _write_job_id(args.output, record.id)
        if args.is_async:
            print(record.id)
            return EXIT_OK
        return _watch(service, record.id)


def cmd_attach(args: argparse.Namespace) -> int:
    """Follow a job: its output from the first line, then its outputs and exit status. A job that already
    ended prints its stored output."""
    service = _service(args)
    with _job_error_into_command_error(args.job_id):
        record = service.refresh(args.job_id)
        if not record.status.terminal:
            return _watch(service, args.job_id)
        for stream, line in service.logs(args.job_id):
            if stream != "system":
                _sink(stream, line)
        return _finish(service, record)


def _write_job_id(path: Path | None, job_id: str) -> None:
    """``-o FILE`` of the official CLI's ``execute``/``fork``: the new job's id as JSON, for scripts."""
    if path is not None:
        try:
            path.write_text(json.dumps({"job_id": job_id}) + "\n")
        except OSError as exc:
            raise CommandError(f"cannot write {path}: {exc.strerror or exc} (job {job_id} was created)") from None


@contextmanager
def _printed_to(path: Path | None) -> Iterator[None]:
    """Standard output, or ``-o FILE`` (written whole at the end, so a failure leaves no half a file)."""
    if path is None:
        yield
        return
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        yield
    try:
        path.write_text(buffer.getvalue())
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from None


def _working_storage(args: argparse.Namespace) -> dict[str, str] | None:
    """``--working-storage-size/-type`` as a ``working-storage`` mapping (a type alone fails as in a config)."""
    if args.working_storage_size is None and args.working_storage_type is None:
        return None
    given = {"size": args.working_storage_size, "type": args.working_storage_type}
    return {key: value for key, value in given.items() if value is not None}


def _pairs(values: list[str], what: str) -> dict[str, str]:
    result: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise CommandError(f"{what}: invalid name-value pair: {item!r} (use NAME=VALUE)")
        result[name] = value
    return result


def cmd_fork(args: argparse.Namespace) -> int:
    service = _service(args)
    with _job_error_into_command_error():
        overrides = Overrides(
            args=_pairs(args.arg, "--arg"),
            vars=_pairs(args.var, "--var"),
            env_vars=_pairs(args.env_var, "--env-var") if args.env_var else None,
            name=args.name,
            desc=args.desc,
            cloud_instance_types=tuple(args.cloud_instance_type) or None,
            image=args.image or args.docker_image_id,
            registry_username=args.docker_image_username,
            registry_password_secret_id=args.docker_image_password_secret_id,
            working_storage=_working_storage(args),
        )
        record = service.fork(args.job_id, overrides, notify=_info)
        _info(f"created job {record.id} (fork of {args.job_id})")
        _write_job_id(args.output, record.id)
        if args.is_async:
            print(record.id)
            return EXIT_OK
        return _watch(service, record.id)


def _ls_query(args: argparse.Namespace) -> JobQuery:
    try:
        statuses = parse_statuses(args.status)
        limit = MAX_PAGE if args.all else args.limit
        return JobQuery(statuses=statuses, text=(args.name or "").strip() or None, offset=args.offset, limit=limit)
    except ValueError as exc:
        raise CommandError(f"dsjobs ls: {exc}") from None


def cmd_ls(args: argparse.Namespace) -> int:
    query = _ls_query(args)
    service = _service(args)
    more = False
    with _job_error_into_command_error():
        if args.reindex:
            _info(f"indexed {service.jobs.rebuild_index()} job(s)")
        if args.all:
            records = [r for r in service.list_jobs() if query.matches(r)][query.offset :]
        else:
            page = service.query_jobs(query)
            records, more = page.jobs, not page.exact or page.total > query.offset + len(page.jobs)
    with _printed_to(args.output):
        if args.format == "json":
            print(json.dumps([_public(r) for r in records], indent=4, ensure_ascii=False))
        else:
            _print_table([_record_row(r) for r in records])
    if more:
        _info(f"newest {len(records)} shown; more with --offset {query.offset + len(records)}, or --all")
    return EXIT_OK


def cmd_get(args: argparse.Namespace) -> int:
    service = _service(args)
    with _job_error_into_command_error(args.job_id):
        record = service.get(args.job_id)
    with _printed_to(args.output):
        _print_job(args.format, record)
    return EXIT_OK


def _print_job(form: str, record: JobRecord) -> None:
    if form == "json":
        print(json.dumps(_public(record), indent=4, ensure_ascii=False))
    else:
        _print_table([_record_row(record)])
        if record.status_details:
            print(f"details: {record.status_details}")
        if record.working_storage is not None:
            print(record.working_storage.describe())
        for synced in record.s3_sync:
            print(synced.describe())
        if record.progress is not None:
            print(f"progress: {Progress(record.progress, record.progress_message or '').describe()}")
        if record.result is not None:
            text = json.dumps(record.result, ensure_ascii=False)
            print(f"result: {text if len(text) <= 200 else text[:199] + '…'}")


def cmd_logs(args: argparse.Namespace) -> int:
    if args.tail is not None and args.tail < 0:
        raise CommandError("--tail must be 0 or more")
    service = _service(args)
    with _job_error_into_command_error():
        for stream, line in service.logs(args.job_id, tail=args.tail):
            _sink(stream, line)
    return EXIT_OK


def cmd_cancel(args: argparse.Namespace) -> int:
    service = _service(args)
    with _job_error_into_command_error():
        record = service.cancel(args.job_id, graceful=args.graceful)
    _info(f"job {record.id} is {record.status.value}")
    return EXIT_OK


def parse_ttl_days(text: str) -> int | None:
    if text.strip().lower() in ("infinity", "inf"):
        return None
    try:
        days = int(text)
    except ValueError:
        raise CommandError('TTL should be either number of days or literal "infinity"') from None
    if days < 1:
        raise CommandError("TTL days should be positive")
    return days


def cmd_set_data_ttl(args: argparse.Namespace) -> int:
    days = parse_ttl_days(args.days)
    service = _service(args)
    with _job_error_into_command_error():
        record = service.set_data_ttl(args.job_id, days)
    expires = record.data_expires_at.isoformat() if record.data_expires_at else "never"
    _info(f"data ttl updated: job {record.id} data expires {expires}")
    return EXIT_OK


def cmd_download_files(args: argparse.Namespace) -> int:
    service = _service(args)
    with _job_error_into_command_error():
        record = service.get(args.job_id)
        if not record.status.terminal:
            _info(f"job {record.id} is still running ({record.status.value}), nothing to download yet.")
            return EXIT_OK
        if record.status != JobStatus.SUCCESS:
            _info(f"job {record.id} was completed with error ({record.status.value}). Not all files can be downloaded.")
        paths = service.download_files(
            args.job_id,
            output_dir=args.output_dir,
            with_logs=args.with_logs or args.with_diagnostics,
            progress_stream=sys.stderr,
        )
    for path in paths:
        print(path)
    return EXIT_OK


def cmd_clear(args: argparse.Namespace) -> int:
    service = _service(args)
    with _job_error_into_command_error():
        report = service.clear_all() if args.all else service.clear(args.job_id)
    what = "the project's expired data" if args.all else f"job {args.job_id} data"
    _info(
        f"cleared {what}: {len(report.jobs_cleared)} job(s), {report.blobs_deleted} cached input(s), "
        f"{human_size(report.bytes_freed)} freed"
    )
    for job_id in report.jobs_cleared:
        print(job_id)
    return EXIT_OK


def cmd_gc(args: argparse.Namespace) -> int:
    service = _service(args)
    with _job_error_into_command_error():
        report = service.gc(dry_run=args.dry_run)
    if report.jobs_settled:
        _info(f"finished {len(report.jobs_settled)} job(s) nobody followed: " + ", ".join(report.jobs_settled))
    if report.dry_run:
        _info(
            f"would clear {len(report.jobs_cleared)} job(s), delete {report.blobs_deleted} blob(s), "
            f"free {report.bytes_freed} bytes (dry run: nothing deleted)"
        )
    else:
        _info(
            f"cleared {len(report.jobs_cleared)} job(s), deleted {report.blobs_deleted} blob(s), "
            f"freed {report.bytes_freed} bytes"
        )
    for job_id in report.jobs_cleared:
        print(job_id)
    _report_caches(report)
    for name in report.lazy_mounts_removed:
        _info(f"lazy S3 mounts of finished jobs: {'would remove' if report.dry_run else 'removed'} {name}")
    return EXIT_OK


def _report_caches(report: GcReport) -> None:
    """``gc``'s engine cache lines (stderr, like the others): what went or would go, what stays and why."""
    if report.caches_skipped:
        _info(f"engine caches: not collected: {report.caches_skipped}")
        return
    verb = "would remove" if report.dry_run else "removed"
    freed = "would free" if report.dry_run else "freed"
    _info(
        f"engine caches: {verb} {len(report.caches_removed)} volume(s), {freed} {human_size(report.cache_bytes_freed)}"
        + (" (dry run: nothing removed)" if report.dry_run else "")
    )
    for name in report.caches_removed:
        _info(f"  {verb} {name}")
    for name, why in sorted(report.caches_kept.items()):
        _info(f"  kept {name}: {why}")
