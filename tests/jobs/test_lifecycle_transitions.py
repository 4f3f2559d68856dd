"""Every transition of the job status table (``JobStatus`` / ``TRANSITIONS``) made by the lifecycle itself, on a
fake runtime and a temporary local store. The test is parametrized over the table: a transition added to the table
without a scenario here fails (``test_every_transition_is_made_by_the_lifecycle``), and so does a scenario whose
job does not pass through the transition it is named for."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from airflow_provider_dsjobs.documents.record import TRANSITIONS, JobRecord, JobStatus
from airflow_provider_dsjobs.jobs.errors import JobError
from airflow_provider_dsjobs.jobs.service import JobService
from airflow_provider_dsjobs.runtime.errors import RuntimeFailure
from tests.jobs.lifecycle_kit import Kit, assert_follows_the_table, make_kit, steps

S = JobStatus


@pytest.fixture()
def kit(tmp_path: Path) -> Kit:
    return make_kit(tmp_path)


def runs_and_succeeds(kit: Kit) -> JobRecord:
    record = kit.exited(0)
    return kit.service.finalize(record.id)


def runs_and_fails(kit: Kit) -> JobRecord:
    record = kit.exited(3)
    done = kit.service.finalize(record.id)
    assert done.status_details == "program exited with code 3"
    return done


def cancelled_while_staging_in(kit: Kit) -> JobRecord:
    def cancel(created: JobRecord) -> None:
        kit.other.request_cancel(created.id)

    record = kit.service.submit(kit.config, on_created=cancel)
    assert kit.runtime.containers == {}  # never created
    return record


def interrupted_while_created(kit: Kit) -> JobRecord:
    created: list[str] = []

    def interrupt(record: JobRecord) -> None:
        created.append(record.id)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        kit.service.submit(kit.config, on_created=interrupt)
    return kit.stored(created[0])


def staging_in_fails(kit: Kit) -> JobRecord:
    small = JobService(replace(kit.settings, max_input_file_size=2), runtime=kit.runtime)
    created: list[str] = []
    with pytest.raises(JobError, match=r"in\.txt"):
        small.submit(kit.config, on_created=lambda r: created.append(r.id))
    assert kit.runtime.containers == {}
    return kit.stored(created[0])


def cancelled_while_inputs_are_delivered(kit: Kit) -> JobRecord:
    def cancel(cid: str) -> None:
        kit.other.request_cancel(kit.job_of(cid))

    kit.runtime.on_put_archive = cancel
    record = kit.service.submit(kit.config)
    assert kit.runtime.started == [] and kit.runtime.containers == {}
    return record


def interrupted_while_preparing(kit: Kit) -> JobRecord:
    kit.runtime.fail_next("create", KeyboardInterrupt())
    created: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        kit.service.submit(kit.config, on_created=lambda r: created.append(r.id))
    return kit.stored(created[0])


def launch_fails(kit: Kit) -> JobRecord:
    kit.runtime.fail_next("start", RuntimeFailure("the engine refused to start it"))
    created: list[str] = []
    with pytest.raises(JobError, match="refused to start"):
        kit.service.submit(kit.config, on_created=lambda r: created.append(r.id))
    assert kit.runtime.containers == {}  # removed
    return kit.stored(created[0])


def cancelled_while_running(kit: Kit) -> JobRecord:
    record = kit.running()
    return kit.service.cancel(record.id)


def recovered_from_a_committed_manifest(exit_code: int, cancelled: bool = False) -> Callable[[Kit], JobRecord]:
    """A finalizer elsewhere committed the outputs manifest and died before saving the record (still EXECUTING)."""

    def scenario(kit: Kit) -> JobRecord:
        record = kit.exited(exit_code)
        kit.commit_elsewhere(record, exit_code, cancelled)
        return kit.service.finalize(record.id)

    return scenario


def died_uploading_then_recovered_cancelled(kit: Kit) -> JobRecord:
    """A finalizer died half-way through stage-out (UPLOADING_OUTPUT stays stored); another one, which saw a cancel,
    committed CANCELLED; the next finalize brings the record to it."""
    record = kit.exited(0)
    kit.runtime.fail_next("stream_logs", SystemExit("finalizer killed"))
    with pytest.raises(SystemExit):
        kit.service.finalize(record.id)
    assert kit.stored(record.id).status == S.UPLOADING_OUTPUT
    kit.commit_elsewhere(record, 0, cancelled=True)
    return kit.service.finalize(record.id)


def cancelled_while_uploading(exit_code: int) -> Callable[[Kit], JobRecord]:
    """A cancel arrives while the finalizer collects the outputs of a job that already ended on its own: the job's
    own outcome stands (CANCELLING -> SUCCESS/ERROR)."""

    def scenario(kit: Kit) -> JobRecord:
        record = kit.exited(exit_code)

        def cancel(_: str) -> None:
            kit.runtime.before.pop("export")  # once
            kit.other.request_cancel(record.id)

        kit.runtime.before["export"] = cancel
        return kit.service.finalize(record.id)

    return scenario


#: One scenario for each transition of the table: the lifecycle makes it, nobody writes a status by hand.
SCENARIOS: dict[tuple[JobStatus, JobStatus], Callable[[Kit], JobRecord]] = {
    (S.CREATING, S.PREPARING): runs_and_succeeds,
    (S.CREATING, S.CANCELLING): cancelled_while_staging_in,
    (S.CREATING, S.CANCELLED): interrupted_while_created,
    (S.CREATING, S.ERROR): staging_in_fails,
    (S.PREPARING, S.EXECUTING): runs_and_succeeds,
    (S.PREPARING, S.CANCELLING): cancelled_while_inputs_are_delivered,
    (S.PREPARING, S.CANCELLED): interrupted_while_preparing,
    (S.PREPARING, S.ERROR): launch_fails,
    (S.EXECUTING, S.UPLOADING_OUTPUT): runs_and_succeeds,
    (S.EXECUTING, S.CANCELLING): cancelled_while_running,
    (S.EXECUTING, S.SUCCESS): recovered_from_a_committed_manifest(0),
    (S.EXECUTING, S.ERROR): recovered_from_a_committed_manifest(3),
    (S.EXECUTING, S.CANCELLED): recovered_from_a_committed_manifest(137, cancelled=True),
    (S.UPLOADING_OUTPUT, S.CANCELLING): cancelled_while_uploading(0),
    (S.UPLOADING_OUTPUT, S.SUCCESS): runs_and_succeeds,
    (S.UPLOADING_OUTPUT, S.ERROR): runs_and_fails,
    (S.UPLOADING_OUTPUT, S.CANCELLED): died_uploading_then_recovered_cancelled,
    (S.CANCELLING, S.CANCELLED): cancelled_while_running,
    (S.CANCELLING, S.SUCCESS): cancelled_while_uploading(0),
    (S.CANCELLING, S.ERROR): cancelled_while_uploading(3),
}

TABLE = [(before, after) for before, targets in TRANSITIONS.items() for after in sorted(targets)]


@pytest.mark.parametrize(("before", "after"), TABLE, ids=[f"{b.value}->{a.value}" for b, a in TABLE])
def test_every_transition_is_made_by_the_lifecycle(kit: Kit, before: JobStatus, after: JobStatus) -> None:
    scenario = SCENARIOS.get((before, after))
    assert scenario is not None, f"no lifecycle scenario makes {before} -> {after}: add one to SCENARIOS"
    record = scenario(kit)
    stored = kit.stored(record.id)
    assert (before, after) in steps(stored), f"{scenario.__name__}: {[s.value for s, _ in steps(stored)]}"
    assert_follows_the_table(stored)
    assert stored.status.terminal and record.status == stored.status  # the caller is told what is stored
    assert stored.container_id is None or stored.container_id not in kit.runtime.containers  # no container left


def test_no_scenario_names_a_transition_the_table_lacks() -> None:
    assert set(SCENARIOS) <= set(TABLE)


def test_a_terminal_status_is_never_left(kit: Kit) -> None:
    done = runs_and_succeeds(kit)
    for act in (kit.service.cancel, kit.service.finalize, kit.service.get, kit.service.request_cancel):
        assert act(done.id).status == S.SUCCESS
    assert kit.stored(done.id).history == done.history
    assert list(kit.stored(done.id).outputs) == ["out.txt"]
