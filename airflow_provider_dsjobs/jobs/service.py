"""The job service: one run of a config, end to end (DESIGN.md "One run, end to end").

This is the only API the CLI and the Airflow layer use to run, watch, cancel and inspect jobs.
Every method is safe to call from any process that has the same ``Settings``: state lives in the job
record in the store and in the container's labels on the engine, never in this object. ``JobService``
is a facade over the lifecycle's classes (below); each step's work is in the module named with it.

Lifecycle and where each step lives:

1. **Plan** (``jobs/plan.py``): pure; a bad config, a missing input, env var, secret or s3-mount raises
   ``JobError`` (``jobs/errors.py``) before anything is stored.
2. **Stage in** (``jobs/stage_in.py``): datasets used by ID are checked; inputs (and Python local modules) go
   through the content-addressed cache; only missing blobs are uploaded. The record (CREATING) is written, with
   ``inputs`` = ``{path, var, kind, sha256, size}``, and a small ``plan.json`` next to it (``jobs/plan_doc.py``:
   output placements, output datasets, graceful shutdown, the pyenv marker: what a finalizer in another process
   needs; no env values, no secrets).
3. **Launch**: PREPARING; the image and volumes are ensured and the instance type chosen
   (``jobs/launch.py``), the container created (labels ``dsjobs.job_id``, ``dsjobs.project`` + the caller's;
   name ``dsjobs-<job_id>``), the inputs delivered with one lazily built tar stream through ``put_archive``
   (``stage_in.archive_entries``; no bind mounts: works with a remote engine), then started: EXECUTING.
   Any failure after the record exists leaves it ERROR with ``status_details`` and removes the container.
4. **Watch** (``wait``): the container's output goes live to the ``LogSink``.
5. **Finalize** (``finalize``; idempotent; the work is ``jobs/stage_out.py``): UPLOADING_OUTPUT; the complete
   log is read again from the engine into files spooled on disk and stored (``logs/stdout.txt``, ``stderr.txt``,
   ``log.txt``) — so the stored log is whole even when nobody watched; each declared output is exported (files
   and directories, streamed) into the store, a missing one is listed in ``record.missing_outputs`` and in the
   log; on exit 0 output datasets are published; read-write s3-mounts are synced back to their buckets
   whatever the outcome (``jobs/s3_sync.py``); the output manifest is written **last**; then SUCCESS / ERROR /
   CANCELLED is saved and the container removed. Two finalizers write the same keys with the same bytes
   (dataset IDs are derived from the job id and dataset name), the terminal record is saved before the
   container is removed, and a finalizer that loses the container half-way re-reads the record and returns the
   terminal one: nothing is corrupted.

``JobService`` is a facade: the work is done by ``JobRunner`` (``jobs/runner.py``: submit through
``jobs/submitter.py``, watch, finalize through ``jobs/finalizer.py``, cancel), ``JobReader`` (``jobs/reader.py``:
records, logs, outputs, read-only) and ``JobData`` (``jobs/data_admin.py``: data TTL, clear, gc), over one
``JobContext`` (``jobs/context.py``: settings, store, runtime, engine ownership). Steps return typed results
(``StagedInputs``, ``ContainerCreated``, ``StageOutResult``) that only the lifecycle stores.

Every change of a stored record goes through ``JobStore.update`` (compare-and-swap, ``jobs/store.py``): a status
change through ``Transitions.move``, other fields through ``Transitions.put_fields`` (``jobs/transitions.py``). Each
re-reads the record and decides on what is stored now: a target status the transition table
(``JobStatus.can_become``) does not allow from the stored one means another process moved the job on (cancelled or
ended it) — "lost the race" — so nothing is written and the caller gets the stored record to decide again. Exactly
one finalizer or canceller ends a job; the terminal record carries that writer's outcome whole (status, reason,
outputs, logs), never a mix.

Cancel: CANCELLING is saved; with ``graceful`` and a ``graceful-shutdown`` section the signal is sent and the
container gets its timeout before SIGKILL, otherwise it is killed at once; then finalize (outputs and logs are
collected) ends it CANCELLED. A cancel that arrives while the job is still being submitted ends it CANCELLED
before it starts.

Afterwards: ``download_files`` (``jobs/downloads.py``) brings outputs and logs to local files; ``fork``
(``jobs/fork.py``) re-runs a job from its stored config, input blobs and Python environment, with overrides;
``gc`` (``jobs/gc.py``) deletes expired data.
Browsing (the Airflow plugin's Jobs page) is read-only: ``read``, ``query_jobs`` (``jobs/query.py``),
``output_files``/``open_output`` (``jobs/output_files.py``), ``logs(follow=True)``, ``container_state`` and
``read_new_logs`` (one bounded look at a running job's new output) change nothing.

Store layout of one job (``JobStore``, ``jobs/store.py``): ``record.json``, ``plan.json``, ``outputs/``
(``work/<relpath>`` for var-less outputs, ``vars/<VAR>/<name>`` for var outputs, ``manifest.json`` last),
``logs/``. Output datasets go to ``projects/<p>/datasets/<id>/`` with their own ``manifest.json``; a dataset
used by ID is every object under that prefix except the manifest.

``working-storage`` is granted at launch (``jobs/working_storage.py``): the engine's free space is checked, and
the container's writable layer capped where the storage driver can; ``record.working_storage`` keeps what the job
got. ``spark`` gives the job its connector's Spark Connect endpoint (``resources/spark.py``). Links,
FIFOs and devices inside output directories are skipped (and listed in the log); an output that is a symbolic
link is missing. A lost engine raises ``EngineLost`` and leaves the record as it was: ``get``/``wait`` settle the
job once the engine answers again.

Many machines may share one store, each with its own engine: the record names the engine that runs the job
(``record.engine``, set at launch) and only a service connected to that engine decides about the job's container
(``jobs/ownership.py``). Any other asks that engine through its engine map (``get``, ``refresh``, ``wait``,
``finalize``, ``cancel``, ``logs`` run there), or, when it cannot reach it, raises ``EngineElsewhere`` (``get``
returns the stored record, ``logs`` the stored log) and changes nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterator, Mapping
from pathlib import Path
from typing import BinaryIO, TextIO

from airflow_provider_dsjobs.config.model import JobConfig
from airflow_provider_dsjobs.config.overrides import Overrides
from airflow_provider_dsjobs.documents.record import JobRecord, day
from airflow_provider_dsjobs.jobs.context import JobContext
from airflow_provider_dsjobs.jobs.data_admin import JobData
from airflow_provider_dsjobs.jobs.errors import (
    EngineElsewhere,
    EngineLost,
    InfrastructureError,
    JobConfigError,
    JobError,
    into_job_error,
)
from airflow_provider_dsjobs.jobs.fork import fork_config
from airflow_provider_dsjobs.jobs.gc import GcReport
from airflow_provider_dsjobs.jobs.output_files import OutputFile
from airflow_provider_dsjobs.jobs.ownership import Ownership
from airflow_provider_dsjobs.jobs.plan import JobPlan, Reuse
from airflow_provider_dsjobs.jobs.progress import Progress
from airflow_provider_dsjobs.jobs.query import MAX_PAGE, JobPage, JobQuery
from airflow_provider_dsjobs.jobs.reader import JobReader, check_data
from airflow_provider_dsjobs.jobs.runner import JobRunner, LogSink
from airflow_provider_dsjobs.jobs.stats import StatsPoint
from airflow_provider_dsjobs.jobs.store import JobStore
from airflow_provider_dsjobs.jobs.submitter import Notify, unsupported_notes
from airflow_provider_dsjobs.jobs.transitions import CANCELLED_BEFORE_START
from airflow_provider_dsjobs.runtime.base import ContainerRuntime
from airflow_provider_dsjobs.runtime.containers import ContainerState
from airflow_provider_dsjobs.runtime.log_stream import LogCursor
from airflow_provider_dsjobs.settings import Settings
from airflow_provider_dsjobs.storage.base import ObjectStore

__all__ = [
    "CANCELLED_BEFORE_START",
    "EngineElsewhere",
    "EngineLost",
    "GcReport",
    "InfrastructureError",
    "JobConfigError",
    "JobError",
    "JobService",
    "LogSink",
    "Notify",
]


def _noop(_: str) -> None:
    return None


class JobService:
    """Runs configs as containers with inputs and outputs staged through the store.

    ``runtime`` (a ``runtime.base.ContainerRuntime``) and ``store`` are what the service works on; by default it
    connects to the Docker engine and opens the store that ``settings`` name, each on first use (listing jobs
    needs no engine). A runtime passed in belongs to the caller: ``close`` leaves it open."""

    def __init__(
        self, settings: Settings, *, runtime: ContainerRuntime | None = None, store: ObjectStore | None = None
    ) -> None:
        self.settings = settings
        self.context = JobContext(settings, runtime=runtime, store=store)
        self.runner = JobRunner(self.context)
        self.reader = JobReader(self.context)
        self.data = JobData(self.context, self.runner.get, self.reader.query_jobs)

    # -- wiring ----------------------------------------------------------------------------------------------

    @property
    def project(self) -> str:
        return self.context.project

    @property
    def store(self) -> ObjectStore:
        return self.context.store

    @property
    def jobs(self) -> JobStore:
        return self.context.jobs

    @property
    def runtime(self) -> ContainerRuntime:
        return self.context.runtime

    @property
    def ownership(self) -> Ownership:
        """Who decides about a job's container (``jobs/ownership.py``)."""
        return self.context.ownership

    def close(self) -> None:
        self.context.close()

    def runtime_of(self, record: JobRecord) -> ContainerRuntime:
        """The runtime on the engine that runs ``record``'s job: this reader's own, or one reached through the
        engine map; ``EngineElsewhere`` when that engine is out of reach."""
        return self.context.runtime_of(record)

    def new_job_id(self) -> str:
        with into_job_error():
            return self.jobs.new_job_id()

    # -- submit ----------------------------------------------------------------------------------------------

    def submit(
        self,
        config: JobConfig,
        *,
        labels: Mapping[str, str] | None = None,
        log: LogSink | None = None,
        notify: Notify | None = None,
        environ: Mapping[str, str] | None = None,
        parent_job_id: str | None = None,
        progress_stream: TextIO | None = None,
        on_created: Callable[[JobRecord], None] | None = None,
        reuse: Reuse | None = None,
        secret_env_names: Collection[str] = (),
    ) -> JobRecord:
        """Plan, stage inputs in, create and start the container. Returns as soon as the job runs
        (status EXECUTING); the record is already in the store, so ``record.id`` can be persisted.
        ``labels`` are added to the container and the record (the Airflow layer passes dag/task/run ids).
        ``notify`` receives progress lines for a human; ``environ`` replaces ``os.environ`` for ``- NAME`` vars;
        ``progress_stream`` shows an upload progress bar there (a redrawn bar on a terminal, lines otherwise).
        ``on_created`` is called with the record as soon as it is stored (CREATING), before the long phases
        (input upload, image pull), so a caller can remember the id and cancel the job while it is submitted.
        ``reuse`` (``fork``) names inputs already stored; ``secret_env_names`` are env vars whose values the
        stored log masks besides the project's secrets and sensitive-looking names. A config that cannot be
        planned raises ``JobConfigError`` before anything is stored; a failure later leaves the record ERROR with
        the reason in ``status_details`` (and raises ``JobError`` with it)."""
        say: Notify = notify or ((lambda message: log("system", message)) if log is not None else _noop)
        submitter = self.runner.submitter
        plan = submitter.plan(config, labels, environ, reuse, secret_env_names)
        for note in unsupported_notes(config):
            say(note)
        record = submitter.new_record(config, plan, parent_job_id)
        return submitter.submit_plan(plan, record, say=say, progress_stream=progress_stream, on_created=on_created)

    def submit_plan(
        self,
        plan: JobPlan,
        record: JobRecord,
        *,
        say: Notify,
        progress_stream: TextIO | None = None,
        on_created: Callable[[JobRecord], None] | None = None,
    ) -> JobRecord:
        """Store ``record`` (CREATING) and launch ``plan``: the part of ``submit`` after planning, shared with
        ML Lab jobs (``lab/``), which plan from an image instead of a config. Same guarantees as ``submit``."""
        return self.runner.submitter.submit_plan(
            plan, record, say=say, progress_stream=progress_stream, on_created=on_created
        )

    # -- watching, finalizing, cancelling --------------------------------------------------------------------

    def refresh(self, job_id: str) -> JobRecord:
        """The record with its status brought up to date from the engine, without staging out.

        Saves only one thing: a launch whose launcher died ends ERROR (``jobs.lease``). Otherwise nothing is
        saved, and a job whose container has exited (or is gone) but which is not finalized is *reported* as
        UPLOADING_OUTPUT — a status the store does not hold yet: the caller's cue to call ``finalize``.
        A job on another engine is asked there; ``EngineElsewhere`` when that engine cannot be reached."""
        return self.runner.refresh(job_id)

    def wait(
        self,
        job_id: str,
        *,
        log: LogSink | None = None,
        poll_interval: float = 1.0,
        timeout: float | None = None,
        since: float | None = None,
    ) -> JobRecord:
        """Stream the job's output to ``log`` while it runs, then finalize; returns the terminal record.

        The output starts at the job's first line (or at ``since``, epoch seconds: a re-attaching caller
        passes the time it last saw output, to avoid repeating lines). ``timeout`` (seconds) raises
        ``JobError`` if the job still runs by then (the job keeps running); it is checked between polls, so
        with a ``log`` it applies once the output stream has ended. Safe to call from several processes."""
        return self.runner.wait(job_id, log=log, poll_interval=poll_interval, timeout=timeout, since=since)

    def finalize(self, job_id: str) -> JobRecord:
        """Stage outputs out, publish output datasets, write the manifest last, set the terminal status,
        remove the container. Idempotent: on a terminal job it changes nothing. On a job still running it
        changes nothing either and returns the current record."""
        return self.runner.finalize(job_id)

    def get(self, job_id: str) -> JobRecord:
        """The record; a job whose container has exited is finalized first, and one whose launcher died before
        starting it is ended ERROR (``jobs.lease``). A job on another engine is asked there (``jobs/ownership.py``);
        when that engine cannot be reached from here the stored record comes back unchanged, its
        ``status_details`` (not saved) saying ``running on engine NAME (not reachable from here)``."""
        return self.runner.get(job_id)

    def cancel(self, job_id: str, *, graceful: bool = True) -> JobRecord:
        """Cancel: with ``graceful`` and a ``graceful-shutdown`` section, send its signal and wait its timeout
        before killing; otherwise kill at once. The status ends CANCELLED and the container is removed."""
        return self.runner.cancel(job_id, graceful=graceful)

    def request_cancel(self, job_id: str, *, graceful: bool = True) -> JobRecord:
        """Cancel without waiting (a SIGTERM handler's budget): save CANCELLING and send the graceful-shutdown
        signal (or SIGKILL). Whoever reads the job next finishes it: ``refresh``/``get``/``wait`` kill a container
        that outlives its graceful timeout, ``finalize`` stages out and ends it CANCELLED, a submit still under
        way ends it CANCELLED before it starts (or, if its process died, the next reader once its lease is stale)."""
        return self.runner.request_cancel(job_id, graceful=graceful)

    # -- reading: nothing is finalized or saved --------------------------------------------------------------

    def read(self, job_id: str) -> JobRecord:
        """The stored record as it is (unlike ``get``, a job whose container exited is not finalized here)."""
        return self.context.load(job_id)

    def find(self, labels: Mapping[str, str]) -> JobRecord | None:
        """The newest job whose labels include ``labels`` (re-attaching after a worker crash)."""
        return self.reader.find(labels)

    def list_jobs(self) -> list[JobRecord]:
        """Every job of the project, newest first: reads every record (``query_jobs`` reads one page)."""
        return self.reader.list_jobs()

    def query_jobs(self, query: JobQuery, visible: Callable[[JobRecord], bool] | None = None) -> JobPage:
        """One page of the project's jobs, newest first, filtered by ``query`` (``jobs/query.py``) and, when
        given, by ``visible`` (what the caller may see), before the page is cut. Reads about a page of records,
        not every record (``page_jobs``)."""
        return self.reader.query_jobs(query, visible)

    def logs(self, job_id: str, *, tail: int | None = None, follow: bool = False) -> Iterator[tuple[str, str]]:
        """The job's output as ``(stream, line)`` pairs: live from the engine while it runs, from the store after.
        Stored logs also carry the service's own lines as stream ``"system"``. With ``follow`` a running job's
        output keeps coming until its container stops."""
        return self.reader.logs(job_id, tail=tail, follow=follow)

    def output_datasets(self, record: JobRecord) -> list[tuple[str, str, int | None]]:
        """``(id, name, size in bytes)`` of each output dataset the job published (the size from the dataset's
        manifest; None when that cannot be read)."""
        return self.reader.output_datasets(record)

    def progress_of(self, record: JobRecord) -> Progress | None:
        """The job's last progress: the record's once it ended (or when nobody follows it), else what its follower
        stored meanwhile. Reads only."""
        return self.reader.progress_of(record)

    def stats_points(self, job_id: str, max_points: int = 240) -> list[StatsPoint]:
        """The CPU and memory samples stored for the job (``logs/docker_stats.tsv``), thinned for a chart."""
        return self.reader.stats_points(job_id, max_points)

    def container_state(self, record: JobRecord) -> ContainerState | None:
        """The engine's state of an active job's container, only looked at (None: no container, or a terminal
        job): a page shows "exited, not finalized yet" from it without finalizing anything."""
        return self.reader.container_state(record)

    def read_new_logs(self, record: JobRecord, cursor: LogCursor, limit: int) -> tuple[list[tuple[str, str]], bool]:
        """One bounded look at a running job's output: at most ``limit`` lines the earlier calls with the same
        ``cursor`` did not return (one non-following engine read, bounded by the API timeout), and whether the
        container still runs. Changes nothing; an exited or vanished container gives what is left and False."""
        return self.reader.read_new_logs(record, cursor, limit)

    def output_files(self, job_id: str) -> list[OutputFile]:
        """The job's stored output files (empty until its outputs are committed, or once its data is cleared)."""
        return self.reader.output_files(job_id)

    def open_output(self, job_id: str, path: str) -> tuple[OutputFile, BinaryIO]:
        """A streaming reader of one listed output file; the caller closes it. Expired or cleared data is refused
        with the date, as ``download_files`` does."""
        return self.reader.open_output(job_id, path)

    def download_files(
        self,
        job_id: str,
        *,
        output_dir: Path | None = None,
        with_logs: bool = False,
        progress_stream: TextIO | None = None,
    ) -> list[Path]:
        """Bring outputs (and logs) to their local paths, or flattened into ``output_dir``.

        Without ``output_dir`` each output goes to its path from the config (relative to the config's
        directory; directories are recreated). With it, each output lands at ``output_dir/<basename>``.
        Logs go to ``output_dir`` (or the current directory) as ``<job_id>.log.txt``, ``.stdout.txt``,
        ``.stderr.txt``. Existing files are replaced; an existing directory where a file belongs is an error.
        Nothing read from the store is trusted as a local path, and a download cut off half-way changes
        nothing locally (``jobs/downloads.py``). ``progress_stream`` shows a download progress bar there."""
        return self.reader.download_files(job_id, output_dir, with_logs, progress_stream)

    # -- data ------------------------------------------------------------------------------------------------

    def set_data_ttl(self, job_id: str, days: int | None) -> JobRecord:
        """Keep the job's data ``days`` more days from now; ``None`` keeps it forever."""
        return self.data.set_data_ttl(job_id, days)

    def gc(self, *, dry_run: bool = False) -> GcReport:
        """Finish the jobs nobody follows whose container has exited (``settle_exited``), then delete expired job
        data and blobs no live job references, then the project's engine cache volumes unused for long or over the
        budget (``jobs/cache_gc.py``); ``dry_run``: change nothing, only say what would go."""
        return self.data.gc(dry_run=dry_run)

    def settle_exited(self, max_jobs: int = 5 * MAX_PAGE) -> list[str]:
        """Finish what no follower will: each active job (an ``execute --async`` job nobody attached to, a job
        whose task was cancelled from the page and never came back) whose container has exited, or whose
        launcher died, is finalized as ``dsjobs get`` does it — by its own engine: a job on another engine is
        asked there through the engine map, or left alone when that engine is out of reach. Reads only the active
        jobs (their index), at most ``max_jobs``; returns the ids that ended."""
        return self.data.settle_exited(max_jobs)

    def clear(self, job_id: str) -> GcReport:
        """Delete a finished job's stored data now (outputs, logs, and the cached inputs no other job uses); its
        record stays, marked cleared, and later reads say so. Clearing a cleared job changes nothing."""
        return self.data.clear(job_id)

    def clear_all(self) -> GcReport:
        """The project's expired job data and every cached input no job with live data uses, now (``gc`` without
        the hour of grace: only inputs younger than a few minutes are kept, for submits in progress)."""
        return self.data.clear_all()

    # -- fork ------------------------------------------------------------------------------------------------

    def fork(
        self,
        job_id: str,
        overrides: Overrides | None = None,
        *,
        labels: Mapping[str, str] | None = None,
        notify: Notify | None = None,
    ) -> JobRecord:
        """Re-run job ``job_id`` with ``overrides`` (DataSphere's ``fork``), from the inputs and Python environment
        it stored (``jobs/fork.py``): only an input an override replaces is read from this machine."""
        over = overrides or Overrides()
        source = self.context.load(job_id)
        check_data(source, "fork is unavailable: ")
        if source.data_expires_at is not None and notify is not None:
            notify(f"source job data expires on {day(source.data_expires_at)} (dsjobs set-data-ttl keeps it longer)")
        python = self.context.plan_doc(job_id).python
        forked = fork_config(source, over, python, catalog=self.settings.instance_catalog)
        environ = {**os.environ, **over.environ} if over.env_vars else None
        return self.submit(
            forked.config, labels=labels, notify=notify, environ=environ, parent_job_id=job_id, reuse=forked.reuse
        )
