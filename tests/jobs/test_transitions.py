"""The status transition table in the job lifecycle, fast (``JobService`` on a local store with the in-memory
``fake_runtime.FakeRuntime``; a second service on the same store and runtime plays another process): every
recorded history follows ``JobStatus.can_become``, and a step that lost a race to another process decides again
on what that process stored instead of overwriting it."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dsjobs.config import config_from_mapping
from airflow_provider_dsjobs.config.model import JobConfig
from airflow_provider_dsjobs.jobs.record import JobRecord, JobStatus
from airflow_provider_dsjobs.jobs.service import CANCELLED_BEFORE_START, JobService
from airflow_provider_dsjobs.settings import Settings
from tests.jobs.fake_runtime import FakeRuntime

S = JobStatus


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
