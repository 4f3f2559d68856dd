"""The one way a job's stored record changes: ``Transitions.move`` (a status change, with what the step learnt) and
``Transitions.put_fields`` (what a step learnt, no status change), both through ``JobStore.update``
(compare-and-swap). Each decides on the record as stored now: a status the transition table
(``JobStatus.can_become``) does not allow from the stored one means another process moved the job on — the caller
lost the race — so nothing is written and the caller gets the stored record to decide again on."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from contextlib import suppress
from typing import Any

from airflow_provider_dsjobs.documents.record import JobRecord, JobStatus
from airflow_provider_dsjobs.jobs.context import JobContext
from airflow_provider_dsjobs.jobs.s3_lazy_mounts import remove_lazy_mounts
from airflow_provider_dsjobs.runtime.errors import RuntimeFailure

#: The one reason a job cancelled before its container started ends with.
CANCELLED_BEFORE_START = "cancelled before the job started"


def adopt(record: JobRecord, stored: JobRecord) -> JobRecord:
    """Make the caller's ``record`` object the stored one (callers hold on to it across steps)."""
    vars(record).update(vars(copy.deepcopy(stored)))
    return record


class Transitions:
    """Writes a job's record, each time deciding on what is stored now."""

    def __init__(self, ctx: JobContext) -> None:
        self.ctx = ctx

    def put_fields(self, record: JobRecord, values: Mapping[str, Any]) -> JobRecord:
        """Store ``values`` (record field -> value: what this process learnt, e.g. inputs or the container) into the
        record as it is stored now, whatever its status; ``record`` becomes the stored record."""
        fields = copy.deepcopy(dict(values))

        def change(current: JobRecord) -> JobRecord:
            for name, value in fields.items():
                setattr(current, name, value)
            return current

        return adopt(record, self.ctx.update(record.id, change))

    def move(
        self,
        record: JobRecord,
        status: JobStatus,
        reason: str | None = None,
        *,
        by: str,
        discard: bool = False,
        values: Mapping[str, Any] | None = None,
        expect: JobStatus | None = None,
    ) -> JobRecord:
        """Move the stored record to ``status`` (with ``reason`` and which step observed it, ``by``), together with
        ``values`` (record field -> value: an outcome's outputs, logs, return code), in one ``JobStore.update``.

        If the table does not allow ``status`` from the stored status (or, with ``expect``, the stored status is no
        longer ``expect``), the race is lost and nothing is written; staying in ``status`` writes only ``values``.
        ``record`` becomes the stored record either way and is returned: ``record.status != status`` tells the
        caller to decide again. With ``discard`` the job's container is removed once the job is over (also when
        the write fails: the record is what counts)."""
        return self._move(record, status, reason, by=by, discard=discard, values=values, expect=expect)[0]

    def enter(self, record: JobRecord, status: JobStatus, *, by: str) -> tuple[JobRecord, bool]:
        """``move`` to ``status``, and whether this call was the one that moved the job there (False when it was
        there already, or another process moved it on): what a step done once per status (one cancel signal)
        asks before acting."""
        return self._move(record, status, None, by=by)

    def _move(
        self,
        record: JobRecord,
        status: JobStatus,
        reason: str | None,
        *,
        by: str,
        discard: bool = False,
        values: Mapping[str, Any] | None = None,
        expect: JobStatus | None = None,
    ) -> tuple[JobRecord, bool]:
        fields = copy.deepcopy(dict(values or {}))
        entered: list[bool] = []  # the last attempt's answer (update may call ``change`` again after a conflict)

        def change(current: JobRecord) -> JobRecord | None:
            entered[:] = [False]
            if (expect is not None and current.status != expect) or not current.status.can_become(status):
                return None  # lost the race: the caller decides again on what is stored
            if current.status == status and not fields:
                return None
            for name, value in fields.items():
                setattr(current, name, value)
            if current.status != status:
                current.set_status(status, reason, by=by)
                entered[:] = [True]
            return current

        try:
            latest = self.ctx.update(record.id, change)
        except BaseException:
            if discard:
                self.discard(record)
            raise
        container = record.container_id
        adopt(record, latest)
        if discard and latest.status.terminal:
            record.container_id = record.container_id or container
            self.discard(record)
        return record, bool(entered) and entered[0]

    def discard(self, record: JobRecord, *, lazy_mounts: bool = True) -> None:
        """Remove the job's container, if it got one on an engine this context reached, then (unless told not to)
        the helpers of its lazy s3-mounts there; an engine failing now leaves them to the next finalizer or ``gc``."""
        runtime = self.ctx.connected_runtime
        if record.container_id and runtime is not None:
            with suppress(RuntimeFailure):
                runtime.remove(record.container_id, force=True)
        if lazy_mounts and runtime is not None:
            remove_lazy_mounts(runtime, record.id)

    def cancel_unstarted(self, record: JobRecord, by: str, expect: JobStatus | None = None) -> JobRecord:
        """A job cancelled before its container started: CANCELLED, the container (if any) removed."""
        return self.move(record, JobStatus.CANCELLED, CANCELLED_BEFORE_START, by=by, discard=True, expect=expect)
