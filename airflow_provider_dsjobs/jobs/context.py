"""What every part of the job service shares: the settings, the store (opened on first use), the job store, the
runtime (connected on first use), who decides about a job's container (``jobs/ownership.py``) and the contexts of
other engines reached through the engine map. Holds no job state: that lives in the record and the container."""

from __future__ import annotations

import threading
from contextlib import suppress
from dataclasses import replace

from airflow_provider_dsjobs.documents.plan_doc import PlanDoc
from airflow_provider_dsjobs.documents.record import JobRecord
from airflow_provider_dsjobs.jobs.errors import JobError, into_job_error, one_line
from airflow_provider_dsjobs.jobs.ownership import Ownership
from airflow_provider_dsjobs.jobs.plan_doc import read_plan_doc
from airflow_provider_dsjobs.jobs.store import Change, JobNotFound, JobStore, check_job_id
from airflow_provider_dsjobs.runtime.base import ContainerRuntime
from airflow_provider_dsjobs.runtime.containers import Runtime
from airflow_provider_dsjobs.runtime.errors import RuntimeFailure
from airflow_provider_dsjobs.settings import Settings
from airflow_provider_dsjobs.storage.base import ObjectStore, StoreError
from airflow_provider_dsjobs.storage.open import open_store


class JobContext:
    """The wiring of one service: ``runtime`` and ``store`` passed in belong to the caller (``close`` leaves the
    runtime open); by default they are the Docker engine and the store ``settings`` name, each made on first use."""

    def __init__(
        self, settings: Settings, *, runtime: ContainerRuntime | None = None, store: ObjectStore | None = None
    ) -> None:
        self.settings = settings
        self._store = store
        self._jobs: JobStore | None = None
        self._runtime = runtime
        self._owns_runtime = runtime is None
        self._lock = threading.Lock()
        self.ownership = Ownership(settings, lambda: self.runtime)
        self._peers: dict[str, JobContext] = {}

    @property
    def project(self) -> str:
        return self.settings.project

    @property
    def store(self) -> ObjectStore:
        if self._store is None:
            with into_job_error():
                self._store = open_store(self.settings)
        return self._store

    @property
    def jobs(self) -> JobStore:
        if self._jobs is None:
            self._jobs = JobStore(self.store, self.project)
        return self._jobs

    @property
    def runtime(self) -> ContainerRuntime:
        with self._lock:
            if self._runtime is None:
                with into_job_error(RuntimeFailure):
                    self._runtime = Runtime.connect(self.settings)
            return self._runtime

    @property
    def connected_runtime(self) -> ContainerRuntime | None:
        """The runtime if this context reached one already (never connects)."""
        return self._runtime

    def close(self) -> None:
        self._peers.clear()
        self.ownership.close()
        if self._owns_runtime and self._runtime is not None:
            with suppress(OSError):
                self._runtime.close()
            self._runtime = None

    def load(self, job_id: str) -> JobRecord:
        """The stored record; an id from outside (CLI, API, page) is checked in full first."""
        check_job_id(job_id)
        try:
            return self.jobs.load(job_id)
        except JobNotFound:
            # Still a JobError to every caller; JobNotFound lets a web API answer 404.
            raise JobNotFound(f"job {job_id} not found in project {self.project}") from None
        except StoreError as exc:
            raise JobError(one_line(exc)) from None

    def update(self, job_id: str, change: Change) -> JobRecord:
        """``JobStore.update`` (compare-and-swap) with store failures as one-line ``JobError``s."""
        try:
            return self.jobs.update(job_id, change)
        except JobError:
            raise
        except StoreError as exc:
            raise JobError(one_line(exc)) from None

    def plan_doc(self, job_id: str) -> PlanDoc:
        with into_job_error():
            return read_plan_doc(self.jobs, job_id)

    def peer(self, record: JobRecord) -> JobContext | None:
        """None when this context decides about the job's container (it is on the job's engine, or the job has no
        container yet); else the context of the job's engine, reached through the engine map (the same store).
        Raises ``EngineElsewhere`` when that engine cannot be reached from here: nothing is decided or changed."""
        if not record.container_id or self.ownership.is_own(record):
            return None
        runtime = self.ownership.owner_runtime(record)
        assert record.engine is not None  # owner_runtime refuses a record without one
        peer = self._peers.get(record.engine.id)
        if peer is None:
            peer = JobContext(replace(self.settings, engine_name=None), runtime=runtime, store=self.store)
            peer.ownership.assume(record.engine)
            self._peers[record.engine.id] = peer
        return peer

    def runtime_of(self, record: JobRecord) -> ContainerRuntime:
        """The runtime on the engine that runs ``record``'s job (``EngineElsewhere`` when out of reach)."""
        peer = self.peer(record)
        return self.runtime if peer is None else peer.runtime
