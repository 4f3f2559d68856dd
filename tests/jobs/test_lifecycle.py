"""The job lifecycle's failure branches, fast: ``JobService`` on a local store with an in-memory runtime
(``fake_runtime.FakeRuntime``). A second service on the same store and runtime plays another process. The same
paths on a real Docker engine are in ``test_service.py`` and ``test_lease.py``. Every recorded history follows the
status transition table (``JobStatus.can_become``), and a step that lost a race to another process decides again on
what that process stored instead of overwriting it."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dsjobs.config import config_from_mapping
from airflow_provider_dsjobs.config.model import JobConfig
from airflow_provider_dsjobs.documents.record import JobRecord, JobStatus, utcnow
from airflow_provider_dsjobs.jobs.service import CANCELLED_BEFORE_START, EngineLost, JobError, JobService
from airflow_provider_dsjobs.runtime.containers import ContainerSpec
from airflow_provider_dsjobs.runtime.errors import EngineUnreachable, RuntimeFailure
from airflow_provider_dsjobs.runtime.labels import LABEL_JOB_ID
from airflow_provider_dsjobs.settings import Settings
from tests.jobs.fake_runtime import FakeRuntime


@pytest.fixture()
def runtime() -> FakeRuntime:
    return FakeRuntime()


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    return Settings(store_url=(tmp_path / "store").as_uri(), project="p", default_image="img:1", home=tmp_path / "home")


@pytest.fixture()
def service(settings: Settings, runtime: FakeRuntime) -> JobService:
    return JobService(settings, runtime=runtime)


@pytest.fixture()
def config(tmp_path: Path) -> JobConfig:
    (tmp_path / "in.txt").write_text("input\n")
    data = {"cmd": "cat in.txt > out.txt", "inputs": ["in.txt"], "outputs": ["out.txt"]}
    return config_from_mapping(data, base_dir=tmp_path)


def _job_of(runtime: FakeRuntime, container_id: str) -> str:
    return runtime.containers[container_id].spec.labels[LABEL_JOB_ID]


def _unstarted(service: JobService, status: JobStatus, *, age: timedelta = timedelta(0)) -> JobRecord:
    """A record as a launching process leaves it between its steps (no lease: created ``age`` ago)."""
    record = JobRecord(id=service.jobs.new_job_id(), project="p", created_at=utcnow() - age)
    record.set_status(status)
    service.jobs.save(record)
    return record


def test_a_job_runs_and_is_finalized_with_its_output(
    service: JobService, runtime: FakeRuntime, config: JobConfig
) -> None:
    record = service.submit(config)
    assert record.status == JobStatus.EXECUTING
    cid = record.container_id or ""
    assert runtime.started == [cid]
    assert runtime.containers[cid].files["/job/work/in.txt"] == b"input\n"  # the inputs were delivered
    assert service.refresh(record.id).status == JobStatus.EXECUTING
    runtime.finish(cid, 0, {"/job/work/out.txt": b"result\n"})
    assert service.refresh(record.id).status == JobStatus.UPLOADING_OUTPUT  # reported, not stored
    assert service.jobs.load(record.id).status == JobStatus.EXECUTING
    done = service.finalize(record.id)
    assert (done.status, done.missing_outputs, list(done.outputs)) == (JobStatus.SUCCESS, [], ["out.txt"])
    assert [(h.status, h.by) for h in done.history][-2:] == [
        (JobStatus.UPLOADING_OUTPUT, "finalize"),
        (JobStatus.SUCCESS, "finalize"),
    ]
    assert runtime.removed == [cid]
    assert service.finalize(record.id) == done  # idempotent


def test_a_cancel_while_inputs_are_delivered_ends_it_before_it_starts(
    settings: Settings, service: JobService, runtime: FakeRuntime, config: JobConfig
) -> None:
    other = JobService(settings, runtime=runtime)

    def cancel_it(cid: str) -> None:
        other.cancel(_job_of(runtime, cid))

    runtime.on_put_archive = cancel_it
    record = service.submit(config)
    assert (record.status, record.status_details) == (JobStatus.CANCELLED, CANCELLED_BEFORE_START)
    assert runtime.started == [] and runtime.containers == {}
    stored = service.jobs.load(record.id)
    assert (stored.status, stored.status_details) == (JobStatus.CANCELLED, CANCELLED_BEFORE_START)


def test_a_job_ended_by_another_process_meanwhile_keeps_its_error(
    settings: Settings, service: JobService, runtime: FakeRuntime, config: JobConfig
) -> None:
    other = JobService(settings, runtime=runtime)

    def end_it(cid: str) -> None:
        found = other.jobs.load(_job_of(runtime, cid))
        found.set_status(JobStatus.ERROR, "judged abandoned")
        other.jobs.save(found)

    runtime.on_put_archive = end_it
    record = service.submit(config)
    assert (record.status, record.status_details) == (JobStatus.ERROR, "judged abandoned")
    assert runtime.started == [] and runtime.containers == {}
    assert service.jobs.load(record.id).status_details == "judged abandoned"


def test_a_cancel_before_the_container_exists_ends_it_at_once(service: JobService) -> None:
    record = _unstarted(service, JobStatus.CREATING)
    cancelled = service.cancel(record.id)
    assert (cancelled.status, cancelled.status_details) == (JobStatus.CANCELLED, CANCELLED_BEFORE_START)
    assert [h.status for h in service.jobs.load(record.id).history][-2:] == [
        JobStatus.CANCELLING,
        JobStatus.CANCELLED,
    ]


def test_a_container_that_vanished_ends_the_job_error_or_cancelled(
    service: JobService, runtime: FakeRuntime, config: JobConfig
) -> None:
    first = service.submit(config)
    runtime.vanish(first.container_id or "")
    lost = service.finalize(first.id)
    assert lost.status == JobStatus.ERROR
    assert lost.status_details == f"container dsjobs-{first.id} disappeared"

    second = service.submit(config)
    runtime.vanish(second.container_id or "")
    cancelled = service.cancel(second.id)
    assert (cancelled.status, cancelled.status_details) == (JobStatus.CANCELLED, CANCELLED_BEFORE_START)


def test_an_abandoned_launch_ends_error_unless_its_container_started(
    service: JobService, runtime: FakeRuntime, config: JobConfig
) -> None:
    stuck = _unstarted(service, JobStatus.PREPARING, age=timedelta(minutes=5))
    stuck.container_id = runtime.create(ContainerSpec("img:1", ["true"], {}, {LABEL_JOB_ID: stuck.id}, "/job/work"))
    service.jobs.save(stuck)  # created, never started, and its launcher gone for five minutes
    ended = service.get(stuck.id)
    assert ended.status == JobStatus.ERROR
    assert (ended.status_details or "").startswith("the process launching the job stopped before the job started")
    assert ended.history[-1].by == "lease"
    assert stuck.container_id not in runtime.containers

    started = service.submit(config)  # the launcher died right after start: the job runs on
    record = service.jobs.load(started.id)
    record.status, record.created_at = JobStatus.PREPARING, utcnow() - timedelta(minutes=5)
    service.jobs.save(record)
    assert service.get(started.id).status == JobStatus.PREPARING


def test_a_failure_while_collecting_outputs_ends_error_and_removes_the_container(
    service: JobService, runtime: FakeRuntime, config: JobConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = service.submit(config)
    cid = record.container_id or ""
    runtime.finish(cid, 0)

    def broken_export(container_id: str, path: str) -> None:
        raise RuntimeFailure("the engine went away")

    monkeypatch.setattr(runtime, "export", broken_export)
    ended = service.finalize(record.id)
    assert (ended.status, ended.status_details) == (
        JobStatus.ERROR,
        "collecting outputs failed: the engine went away",
    )
    assert cid not in runtime.containers


def test_a_launch_failure_leaves_an_error_record_and_no_container(
    service: JobService, runtime: FakeRuntime, config: JobConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(container_id: str) -> None:
        raise RuntimeFailure("cannot start container: no init")

    monkeypatch.setattr(runtime, "start", refuse)
    with pytest.raises(JobError, match="cannot start container: no init"):
        service.submit(config)
    (record,) = service.list_jobs()
    assert (record.status, record.status_details) == (JobStatus.ERROR, "cannot start container: no init")
    assert runtime.containers == {} and runtime.removed == [record.container_id]


def test_a_runtime_passed_in_stays_open(service: JobService, runtime: FakeRuntime) -> None:
    service.close()
    assert not runtime.closed and service.runtime is runtime


def test_an_engine_lost_while_collecting_outputs_leaves_the_job_to_a_later_finalize(
    service: JobService, runtime: FakeRuntime, config: JobConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = service.submit(config)
    cid = record.container_id or ""
    runtime.finish(cid, 0, {"/job/work/out.txt": b"result\n"})

    def unreachable(container_id: str, path: str) -> object:
        raise EngineUnreachable("lost the Docker engine at unix:///x.sock: Connection refused")

    monkeypatch.setattr(runtime, "export", unreachable)
    with pytest.raises(EngineLost, match=r"lost the Docker engine at unix:///x\.sock: Connection refused"):
        service.finalize(record.id)
    assert service.jobs.load(record.id).status == JobStatus.UPLOADING_OUTPUT  # not ERROR: unknown, not failed
    assert cid in runtime.containers and runtime.removed == []  # the outputs are still in the container
    monkeypatch.undo()
    done = service.finalize(record.id)  # the engine is back
    assert (done.status, list(done.outputs)) == (JobStatus.SUCCESS, ["out.txt"])


# -- the transition table: histories follow it, a step that lost a race decides again ---------------------------

S = JobStatus


def _follows_the_table(record: JobRecord) -> bool:
    statuses = [h.status for h in record.history]
    return statuses[0] == S.CREATING and all(a.can_become(b) for a, b in itertools.pairwise(statuses))


def _during_log_read(runtime: FakeRuntime, monkeypatch: pytest.MonkeyPatch, act: Any) -> None:
    """Hook: ``act`` runs (once) when a finalizer starts reading the finished container's log — another process
    acting while this one collects the outputs."""
    real = runtime.stream_logs
    done: list[bool] = []

    def stream_logs(container_id: str, **kwargs: Any) -> Iterator[Any]:
        if not done and not kwargs.get("follow", True):
            done.append(True)
            act()
        return real(container_id, **kwargs)

    monkeypatch.setattr(runtime, "stream_logs", stream_logs)


def test_every_ending_follows_the_transition_table(
    service: JobService, runtime: FakeRuntime, config: JobConfig
) -> None:
    ok = service.submit(config)
    runtime.finish(ok.container_id or "", 0, {"/job/work/out.txt": b"r\n"})
    failed = service.submit(config)
    runtime.finish(failed.container_id or "", 3)
    cancelled = service.submit(config)
    ended = [service.finalize(ok.id), service.finalize(failed.id), service.cancel(cancelled.id)]
    assert [r.status for r in ended] == [S.SUCCESS, S.ERROR, S.CANCELLED]
    assert all(_follows_the_table(service.jobs.load(r.id)) for r in ended)


def test_a_cancel_while_a_finished_job_is_collected_lets_its_own_ending_stand(
    settings: Settings, service: JobService, runtime: FakeRuntime, config: JobConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = service.submit(config)
    runtime.finish(record.container_id or "", 0, {"/job/work/out.txt": b"r\n"})
    other = JobService(settings, runtime=runtime)
    _during_log_read(runtime, monkeypatch, lambda: other.request_cancel(record.id))
    done = service.finalize(record.id)
    assert done.status == S.SUCCESS and list(done.outputs) == ["out.txt"]  # it had ended before the cancel came
    stored = service.jobs.load(record.id)
    assert [h.status for h in stored.history][-3:] == [S.UPLOADING_OUTPUT, S.CANCELLING, S.SUCCESS]
    assert _follows_the_table(stored) and stored == done


def test_a_finalizer_that_lost_to_a_canceller_returns_the_cancel_whole(
    settings: Settings, service: JobService, runtime: FakeRuntime, config: JobConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = service.submit(config)
    runtime.finish(record.container_id or "", 0, {"/job/work/out.txt": b"r\n"})
    other = JobService(settings, runtime=runtime)
    cancelled: list[JobRecord] = []
    _during_log_read(runtime, monkeypatch, lambda: cancelled.append(other.cancel(record.id)))
    done = service.finalize(record.id)
    assert cancelled[0].status == S.CANCELLED
    assert done == cancelled[0] == service.jobs.load(record.id)  # the loser returns the winner's record, whole
    assert [h.status for h in done.history].count(S.CANCELLED) == 1 and not any(
        h.status in (S.SUCCESS, S.ERROR) for h in done.history
    )
    assert _follows_the_table(done)


def test_a_submit_never_overwrites_a_cancel_with_its_own_fields(
    settings: Settings, service: JobService, runtime: FakeRuntime, config: JobConfig
) -> None:
    """The submitter stores the container id after a cancel was stored: the cancel stays, the id is added."""
    other = JobService(settings, runtime=runtime)
    real_create = runtime.create

    def create_then_cancelled(spec: Any) -> str:
        cid = real_create(spec)
        other.request_cancel(spec.labels["dsjobs.job_id"])  # while the submitter has not stored the container
        return cid

    runtime.create = create_then_cancelled  # type: ignore[method-assign]
    record = service.submit(config)
    assert (record.status, record.status_details) == (S.CANCELLED, CANCELLED_BEFORE_START)
    stored = service.jobs.load(record.id)
    assert stored.container_id and [h.status for h in stored.history][-2:] == [S.CANCELLING, S.CANCELLED]
    assert runtime.started == [] and _follows_the_table(stored)


def test_a_ttl_change_during_finalize_is_kept(
    settings: Settings, service: JobService, runtime: FakeRuntime, config: JobConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another host keeps the data longer while this one collects the outputs: both changes stay."""
    record = service.submit(config)
    runtime.finish(record.container_id or "", 0, {"/job/work/out.txt": b"r\n"})
    other = JobService(settings, runtime=runtime)
    _during_log_read(runtime, monkeypatch, lambda: other.set_data_ttl(record.id, None))
    done = service.finalize(record.id)
    stored = service.jobs.load(record.id)
    assert done.status == stored.status == S.SUCCESS and list(stored.outputs) == ["out.txt"]
    assert stored.data_expires_at is None  # kept forever, as the other host asked
