"""Races between processes on a fake runtime and a temporary local store: two finalizers, a cancel against a
finalize, a compare-and-swap conflict injected once. Whatever the interleaving, exactly one writer ends the job, its
outcome is stored whole, and a process that lost re-reads the job and returns what is stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dsjobs.documents.record import JobStatus
from airflow_provider_dsjobs.storage.base import PreconditionFailed
from tests.jobs.lifecycle_kit import Kit, assert_follows_the_table, make_kit, statuses

S = JobStatus


@pytest.fixture()
def kit(tmp_path: Path) -> Kit:
    return make_kit(tmp_path)


def _once(kit: Kit, method: str, act: Any) -> None:
    """Run ``act`` the first time the runtime's ``method`` is called (another process acting meanwhile)."""

    def hook(_: str) -> None:
        kit.runtime.before.pop(method)
        act()

    kit.runtime.before[method] = hook


def test_two_finalizers_end_the_job_once(kit: Kit) -> None:
    record = kit.exited(0)
    _once(kit, "export", lambda: kit.other.finalize(record.id))  # B finalizes while A collects
    first = kit.service.finalize(record.id)
    stored = kit.stored(record.id)
    assert first == stored and stored.status == S.SUCCESS
    assert statuses(stored)[-2:] == [S.UPLOADING_OUTPUT, S.SUCCESS]
    assert_follows_the_table(stored)
    assert list(stored.outputs) == ["out.txt"] and stored.logs
    assert kit.runtime.removed == [record.container_id]


def test_a_cancel_during_a_finalize_of_a_running_job_wins_whole(kit: Kit) -> None:
    """B cancels while A, which saw the container exit, collects: B's CANCELLED stands, A returns it."""
    record = kit.exited(0)
    _once(kit, "export", lambda: kit.other.cancel(record.id))
    first = kit.service.finalize(record.id)
    stored = kit.stored(record.id)
    assert first == stored
    assert (stored.status, stored.status_details) == (S.CANCELLED, "cancelled by user")
    assert statuses(stored)[-3:] == [S.UPLOADING_OUTPUT, S.CANCELLING, S.CANCELLED]
    assert_follows_the_table(stored)


def test_a_finalize_during_a_cancel_returns_the_cancel(kit: Kit) -> None:
    record = kit.running()
    _once(kit, "stop", lambda: kit.other.finalize(record.id))  # the container still runs: B changes nothing
    cancelled = kit.service.cancel(record.id)
    assert cancelled.status == S.CANCELLED == kit.stored(record.id).status
    assert_follows_the_table(kit.stored(record.id))


def _conflict_once(kit: Kit, monkeypatch: pytest.MonkeyPatch, meanwhile: Any = None) -> list[str]:
    """The service's next write of a record fails its compare-and-swap once (after ``meanwhile`` ran)."""
    store = kit.service.store
    real = store.put_bytes_if
    conflicts: list[str] = []

    def put_bytes_if(key: str, data: bytes, **kwargs: Any) -> str:
        if key.endswith("record.json") and not conflicts:
            conflicts.append(key)
            if meanwhile is not None:
                meanwhile()
            raise PreconditionFailed(f"{key} changed meanwhile")
        return real(key, data, **kwargs)

    monkeypatch.setattr(store, "put_bytes_if", put_bytes_if)
    return conflicts


def test_a_conflict_alone_is_retried(kit: Kit, monkeypatch: pytest.MonkeyPatch) -> None:
    record = kit.exited(0)
    conflicts = _conflict_once(kit, monkeypatch)
    done = kit.service.finalize(record.id)
    assert conflicts and done.status == S.SUCCESS == kit.stored(record.id).status


def test_a_conflict_with_a_cancel_decides_again_on_the_cancel(kit: Kit, monkeypatch: pytest.MonkeyPatch) -> None:
    """A's move to UPLOADING_OUTPUT loses its compare-and-swap to B's cancel: A re-reads, sees CANCELLING and
    finalizes the job as cancelled; it never overwrites the cancel."""
    record = kit.exited(0)
    conflicts = _conflict_once(kit, monkeypatch, lambda: kit.other.request_cancel(record.id))
    done = kit.service.finalize(record.id)
    stored = kit.stored(record.id)
    assert conflicts and done == stored
    assert statuses(stored)[-3:] == [S.EXECUTING, S.CANCELLING, S.CANCELLED]
    assert_follows_the_table(stored)


def test_a_conflict_with_another_finalizer_returns_its_outcome(kit: Kit, monkeypatch: pytest.MonkeyPatch) -> None:
    record = kit.exited(3)
    conflicts = _conflict_once(kit, monkeypatch, lambda: kit.other.finalize(record.id))
    done = kit.service.finalize(record.id)
    stored = kit.stored(record.id)
    assert conflicts and done == stored
    assert (stored.status, stored.status_details) == (S.ERROR, "program exited with code 3")
    assert statuses(stored).count(S.UPLOADING_OUTPUT) == 1
    assert_follows_the_table(stored)


def test_two_cancel_requests_at_once_send_one_signal(kit: Kit, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two Jobs-page POSTs: B moves the job to CANCELLING (and signals) while A's write of the same move is in
    flight. A loses, re-reads CANCELLING and sends nothing: a second SIGTERM would cut the program's graceful
    shutdown short."""
    record = kit.running()
    conflicts = _conflict_once(kit, monkeypatch, lambda: kit.other.request_cancel(record.id))
    answered = kit.service.request_cancel(record.id)
    assert conflicts and answered.status == S.CANCELLING
    assert kit.runtime.containers[record.container_id or ""].signals == ["SIGKILL"]  # no graceful-shutdown key
    assert statuses(kit.stored(record.id)).count(S.CANCELLING) == 1


def test_a_cancel_that_lost_to_another_waits_instead_of_signalling_again(
    kit: Kit, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = kit.running()
    box = kit.runtime.containers[record.container_id or ""]
    _conflict_once(kit, monkeypatch, lambda: kit.other.request_cancel(record.id))
    cancelled = kit.service.cancel(record.id)
    assert cancelled.status == S.CANCELLED == kit.stored(record.id).status
    # B's signal ended it; A sent none (its stop without a signal, on a stopped container, does nothing)
    assert [signal for signal in box.signals if signal] == ["SIGKILL"]
    assert_follows_the_table(kit.stored(record.id))


def test_a_kill_still_reaches_a_job_another_canceller_moved(kit: Kit) -> None:
    """One signal per graceful cancel, but a kill (``graceful=False``: on_kill_action kill, a timeout) escalates."""
    record = kit.running()
    box = kit.runtime.containers[record.container_id or ""]
    box.signals.append("SIGTERM")  # another canceller's graceful signal, which the program ignores
    kit.other.runner.moves.move(kit.stored(record.id), S.CANCELLING, by="request_cancel")
    kit.service.request_cancel(record.id)
    assert kit.stored(record.id).status == S.CANCELLING and box.signals == ["SIGTERM"]
    kit.service.request_cancel(record.id, graceful=False)
    assert box.signals == ["SIGTERM", "SIGKILL"] and box.status == "exited"
