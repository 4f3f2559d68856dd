"""Which reader may decide about a job's container: the one on the job's own engine ("Many machines, one store").

A job record names its engine (``JobRecord.engine``: the engine's own ID, the deployment's name for it, its URL),
set at launch. A reader whose engine has that ID decides as it always did: a container gone from there has
disappeared. Any other reader asks the job's engine, found by the record's *name* in its engine map
(``Settings.engines``, ``DSJOBS_ENGINES`` / the connection's ``engines`` extra), after checking that the engine
answering there has the recorded ID. The record's URL is never dialled: a store entry does not choose where this
machine connects (with its TLS client certificate). A reader that cannot reach the job's engine raises
``EngineElsewhere`` (``job ID is running on engine NAME (not reachable from here)``) and changes nothing.

Records written before jobs named their engine (``engine`` is None) are decided conservatively: in a deployment
that names no engines (neither ``engine_name`` nor ``engines`` set: one engine, as before) the reader's engine is
the job's. In one that does, the reader's engine counts as the job's only while it holds the job's container
(labelled with the job's id and project); otherwise nothing is decided here.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from contextlib import suppress
from urllib.parse import urlsplit, urlunsplit

from airflow_provider_dsjobs.documents.record import EngineRef, JobRecord
from airflow_provider_dsjobs.jobs.errors import EngineElsewhere, into_job_error
from airflow_provider_dsjobs.runtime.base import ContainerRuntime
from airflow_provider_dsjobs.runtime.containers import Runtime
from airflow_provider_dsjobs.runtime.engine import DEFAULT_LOCAL_URL, connect_engine
from airflow_provider_dsjobs.runtime.errors import RuntimeFailure
from airflow_provider_dsjobs.runtime.labels import LABEL_JOB_ID, LABEL_PROJECT
from airflow_provider_dsjobs.settings import ENGINE_NAME_PATTERN, Settings

#: How long asking another engine may take before it counts as not reachable from here.
OWNER_PING_TIMEOUT = 5.0


def engine_url(settings: Settings) -> str:
    """Where this machine reaches its own engine, as a record shows it (any user name or password left out)."""
    url = settings.docker_url or os.environ.get("DOCKER_HOST") or DEFAULT_LOCAL_URL
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def shown(name: str) -> str:
    """An engine name from a record as a message shows it: as is when it is a valid name, else quoted with every
    control character escaped (a store entry is hostile)."""
    return name if ENGINE_NAME_PATTERN.fullmatch(name) else ascii(name[:80])


def not_reachable(record: JobRecord, why: str) -> EngineElsewhere:
    where = f"engine {shown(record.engine.name)}" if record.engine is not None else "an engine it does not name"
    return EngineElsewhere(f"job {record.id} is running on {where} (not reachable from here): {why}")


class Ownership:
    """This reader's side of the rule: its own engine (asked once) and the runtimes it opened on other engines
    (closed by ``close``)."""

    def __init__(self, settings: Settings, runtime: Callable[[], ContainerRuntime]) -> None:
        self.settings = settings
        self._runtime = runtime
        self._mine: EngineRef | None = None
        self._asked = False
        self._others: dict[str, ContainerRuntime] = {}

    def mine(self) -> EngineRef | None:
        """The engine this reader is connected to, as a record names it; None for an engine that has no ID."""
        if not self._asked:
            with into_job_error(RuntimeFailure):
                info = self._runtime().engine_info()
            if info.engine_id:
                name = self.settings.engine_name or info.name or info.engine_id
                self._mine = EngineRef(id=info.engine_id, name=name, url=engine_url(self.settings))
            self._asked = True
        return self._mine

    def assume(self, engine: EngineRef) -> None:
        """Take ``engine`` as this reader's own without asking (a runtime opened on it by ``owner_runtime``)."""
        self._mine, self._asked = engine, True

    def names_engines(self) -> bool:
        """Whether the deployment names its engines (several of them may then share the store)."""
        return bool(self.settings.engine_name or self.settings.engines)

    def is_own(self, record: JobRecord) -> bool:
        """Whether this reader may decide about the job's container (see the module's docstring)."""
        if record.engine is None:
            return not self.names_engines() or self._holds_container(record)
        mine = self.mine()
        return mine is not None and mine.id == record.engine.id

    def _holds_container(self, record: JobRecord) -> bool:
        with into_job_error(RuntimeFailure):
            found = self._runtime().find({LABEL_JOB_ID: record.id, LABEL_PROJECT: record.project})
        return any(c.id == record.container_id for c in found)

    def owner_runtime(self, record: JobRecord) -> ContainerRuntime:
        """A runtime on the job's engine, reached through the engine map; ``EngineElsewhere`` when it cannot be."""
        engine = record.engine
        if engine is None:
            raise not_reachable(record, "it was started before jobs named their engine and its container is not here")
        if engine.id in self._others:
            return self._others[engine.id]
        address = self.settings.engines.get(engine.name)
        if address is None:
            raise not_reachable(
                record, "the engine map (DSJOBS_ENGINES / the connection's engines) has no address for it"
            )
        settings = dataclasses.replace(
            self.settings,
            docker_url=address.url,
            docker_tls_ca_cert=address.tls_ca_cert,
            docker_tls_client_cert=address.tls_client_cert,
            docker_tls_client_key=address.tls_client_key,
            docker_tls_verify=address.tls_verify,
        )
        try:
            runtime = Runtime(connect_engine(settings, ping_timeout=OWNER_PING_TIMEOUT))
        except RuntimeFailure as exc:
            raise not_reachable(record, str(exc)) from None
        try:
            found_id = runtime.engine_info().engine_id
        except RuntimeFailure as exc:
            runtime.close()
            raise not_reachable(record, str(exc)) from None
        if found_id != engine.id:
            runtime.close()
            raise not_reachable(record, f"the engine at {address.url} is another one (ID {found_id or 'unknown'})")
        self._others[engine.id] = runtime
        return runtime

    def close(self) -> None:
        for runtime in self._others.values():
            with suppress(OSError, RuntimeFailure):
                runtime.close()
        self._others.clear()
