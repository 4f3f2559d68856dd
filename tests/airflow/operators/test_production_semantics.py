"""What a production user relies on, run in-process against the real engine and store: the trigger's own
deadline and its ``timeout`` event, the sync timeout, transient poll errors, ``on_kill`` that returns at once
(also during submit) and lets the next reader finish the job, typed failures. The same paths under real Airflow
services are in ``tests/deployment/test_production_semantics.py``."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from airflow_provider_dsjobs.compat import TASK_STATE_STORE, AirflowFailException, AirflowTaskTimeout, TaskDeferred
from airflow_provider_dsjobs.documents.record import JobStatus
from airflow_provider_dsjobs.exceptions import (
    DataSphereInfrastructureError,
    DataSphereJobCancelled,
    DataSphereJobFailed,
)
from airflow_provider_dsjobs.jobs.errors import InfrastructureError
from airflow_provider_dsjobs.operators.job_result import STATE_JOB_ID
from airflow_provider_dsjobs.triggers import DataSphereJobTrigger
from tests.airflow.helpers import DictTaskStateStore, TaskInstanceStandIn, make_context, submit_probe
from tests.airflow.operators.test_job import _execute_in_thread, drive_trigger, probe_op, run, wait_until

pytestmark = [pytest.mark.docker, pytest.mark.airflow]

STUBBORN = "stubborn/config.yaml"


def output_of(service: Any, job_id: str) -> list[tuple[str, str]]:
    return list(service.logs(job_id))


# -- deadline and timeout -----------------------------------------------------------------------------------


def test_trigger_deadline_counts_from_the_task_start_and_pads_the_deferral(service: Any) -> None:
    started = datetime.now(timezone.utc) - timedelta(seconds=100)
    ti = TaskInstanceStandIn(start_date=started)
    op = probe_op(args={"SLEEP": "60"}, deferrable=True, execution_timeout=timedelta(seconds=400))
    with pytest.raises(TaskDeferred) as deferred:
        run(op, make_context(ti))
    trigger = deferred.value.trigger
    assert trigger.deadline == pytest.approx(started.timestamp() + 400)
    # Airflow's deferral timeout (which would fail the task without cancelling) comes after the trigger's own.
    assert deferred.value.timeout is not None
    assert deferred.value.timeout.total_seconds() == pytest.approx(300 + 120, abs=5)


def test_deferred_timeout_cancels_gracefully_finalizes_and_fails(service: Any) -> None:
    ti = TaskInstanceStandIn(start_date=datetime.now(timezone.utc))
    store = DictTaskStateStore()
    context = make_context(ti, store)
    op = probe_op(args={"SLEEP": "120"}, deferrable=True, execution_timeout=timedelta(seconds=4))
    with pytest.raises(TaskDeferred) as deferred:
        run(op, context)
    event = drive_trigger(deferred.value.trigger)
    assert event["status"] == "timeout"
    job_id = event["job_id"]
    assert service.refresh(job_id).status == JobStatus.EXECUTING  # the trigger itself cancels nothing

    resumed = probe_op(args={"SLEEP": "120"}, deferrable=True, execution_timeout=timedelta(seconds=4))
    with pytest.raises(AirflowTaskTimeout, match=f"Job {job_id} cancelled: the task's execution_timeout"):
        resumed.execute_complete(context, event=event)
    record = service.get(job_id)
    assert record.status == JobStatus.CANCELLED
    assert record.logs  # stage-out ran: the log was stored
    assert ("stdout", "probe got SIGTERM, shutting down cleanly") in output_of(service, job_id)


def test_sync_timeout_cancels_gracefully_and_finalizes(service: Any) -> None:
    from airflow_provider_dsjobs.compat import timeout

    ti = TaskInstanceStandIn()
    op = probe_op(args={"SLEEP": "120"})
    with pytest.raises(AirflowTaskTimeout), timeout(6):  # what the task runner wraps execute in
        run(op, make_context(ti))
    record = service.get(ti.xcoms["job_id"])
    assert record.status == JobStatus.CANCELLED
    assert ("stdout", "probe got SIGTERM, shutting down cleanly") in output_of(service, record.id)


# -- transient poll errors ----------------------------------------------------------------------------------


def test_trigger_retries_transient_poll_errors(service: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    job_id = submit_probe(service, SLEEP="1")
    trigger = DataSphereJobTrigger(job_id=job_id, poll_interval=0.05, max_poll_failures=4)
    real = trigger._refresh
    failures = iter([InfrastructureError("S3 answered 503 Slow Down"), ConnectionResetError("engine blip")])

    def flaky() -> Any:
        error = next(failures, None)
        if error is not None:
            raise error
        return real()

    monkeypatch.setattr(trigger, "_refresh", flaky)
    event = drive_trigger(trigger)
    assert event["status"] == "exited"


def test_trigger_gives_up_after_bounded_attempts_naming_the_call(service: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    job_id = submit_probe(service, SLEEP="30")
    trigger = DataSphereJobTrigger(job_id=job_id, poll_interval=0.05, max_poll_failures=3)
    calls: list[float] = []

    def broken() -> Any:
        calls.append(time.monotonic())
        raise InfrastructureError("cannot reach the Docker engine at tcp://engine:2376: Connection refused")

    monkeypatch.setattr(trigger, "_refresh", broken)
    event = drive_trigger(trigger)
    assert event["status"] == "error"
    assert event["message"] == (
        f"cannot read the status of job {job_id} (JobService.refresh failed 3 times): "
        "cannot reach the Docker engine at tcp://engine:2376: Connection refused"
    )
    assert len(calls) == 3
    assert calls[2] - calls[1] > calls[1] - calls[0]  # backoff grows
    # The job is left consistent: still running, its record untouched, for the next try to re-attach to.
    assert service.refresh(job_id).status == JobStatus.EXECUTING
    with pytest.raises(DataSphereInfrastructureError, match=r"JobService\.refresh failed 3 times") as err:
        probe_op().execute_complete(make_context(), event=event)
    assert err.value.job_id == job_id


def test_missing_job_is_not_retried(service: Any) -> None:
    event = drive_trigger(DataSphereJobTrigger(job_id="j-missing", poll_interval=0.05, max_poll_failures=5))
    assert event["status"] == "error"
    assert event["message"].startswith("cannot read the status of job j-missing (JobService.refresh failed): ")
    assert "job j-missing not found" in event["message"]


# -- log streaming while deferred ---------------------------------------------------------------------------


def test_trigger_streams_each_new_line_once_and_bounded(service: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_dsjobs.triggers import job as trigger_module

    monkeypatch.setattr(trigger_module, "MAX_LINES_PER_POLL", 7)  # several polls per burst of output
    job_id = submit_probe(service, SLEEP="3")
    trigger = DataSphereJobTrigger(job_id=job_id, poll_interval=0.2)
    lines: list[str] = []
    trigger.log.info = lambda msg, *a, **k: lines.append(msg % a if a else msg)  # type: ignore[method-assign]
    event = drive_trigger(trigger)
    assert event["log_streamed"] is True
    expected = [line for stream, line in output_of(service, job_id) if stream != "system"]
    assert lines == expected  # every line, in order, none twice
    assert "probe started" in lines


def test_trigger_masks_secret_env_values_in_its_own_process(service: Any) -> None:
    """The triggerer did not see the worker register the job's secrets: the trigger masks them itself."""
    from airflow_provider_dsjobs.compat import redact, reset_secrets_masker

    reset_secrets_masker()
    job_id = submit_probe(service, SLEEP="1")  # PROBE_NOTE=not-a-secret in the config
    assert str(redact("note is not-a-secret")) == "note is not-a-secret"
    trigger = DataSphereJobTrigger(job_id=job_id, poll_interval=0.2, secret_env_names=["PROBE_NOTE"])
    lines: list[str] = []
    trigger.log.info = lambda msg, *a, **k: lines.append(msg % a if a else msg)  # type: ignore[method-assign]
    drive_trigger(trigger)
    assert "note is not-a-secret" in lines  # streamed (our stand-in logger does not redact)
    assert str(redact("note is not-a-secret")) == "note is ***"  # what Airflow's log pipeline will show


# -- on_kill ------------------------------------------------------------------------------------------------


def test_on_kill_returns_at_once_and_the_next_reader_finishes_the_job(service: Any) -> None:
    """A program that ignores its graceful-shutdown signal: on_kill does not wait for it (the supervisor would
    SIGKILL the task meanwhile); a later reader kills it after the graceful timeout and ends it CANCELLED."""
    ti = TaskInstanceStandIn()
    op = probe_op(config=STUBBORN, wait_for_completion=False)
    run(op, make_context(ti))
    job_id = ti.xcoms["job_id"]
    wait_until(lambda: ("stdout", "stubborn started") in output_of(service, job_id))
    began = time.monotonic()
    op.on_kill()
    assert time.monotonic() - began < 3  # the graceful timeout is 3 s: it was not waited for
    assert service.refresh(job_id).status == JobStatus.CANCELLING
    wait_until(lambda: service.get(job_id).status == JobStatus.CANCELLED, timeout=60)
    assert service.get(job_id).logs  # finalized: outputs and logs collected


def test_on_kill_during_submit_cancels_the_job_before_it_starts(service: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_dsjobs.jobs import submitter as service_module

    uploading = threading.Event()
    release = threading.Event()
    real_stage_inputs = service_module.stage_inputs

    def slow_stage_inputs(*args: Any, **kwargs: Any) -> Any:  # a long input upload
        uploading.set()
        release.wait(30)
        return real_stage_inputs(*args, **kwargs)

    monkeypatch.setattr(service_module, "stage_inputs", slow_stage_inputs)
    ti = TaskInstanceStandIn()
    store = DictTaskStateStore()
    op = probe_op(args={"SLEEP": "60"})
    thread, outcome = _execute_in_thread(op, make_context(ti, store))
    assert uploading.wait(30)
    job_id = ti.xcoms["job_id"]  # known before the upload finished
    assert store.data.get(STATE_JOB_ID) == (job_id if TASK_STATE_STORE else None)  # no store before Airflow 3.3
    began = time.monotonic()
    op.on_kill()
    assert time.monotonic() - began < 3
    assert service.refresh(job_id).status == JobStatus.CANCELLING
    release.set()
    thread.join(60)
    record = service.get(job_id)
    assert record.status == JobStatus.CANCELLED
    assert record.status_details == "cancelled before the job started"
    assert isinstance(outcome.get("error"), DataSphereJobCancelled)


def test_retry_after_on_kill_finishes_the_cancel_then_runs_a_new_job(service: Any) -> None:
    store = DictTaskStateStore()
    ti = TaskInstanceStandIn()
    thread, _ = _execute_in_thread(probe_op(args={"SLEEP": "60"}), make_context(ti, store))
    wait_until(lambda: "job_id" in ti.xcoms and service.refresh(ti.xcoms["job_id"]).status == JobStatus.EXECUTING)
    killed = ti.xcoms["job_id"]
    service.request_cancel(killed)  # what on_kill did before the worker was SIGKILLed
    thread.join(60)
    retry = run(probe_op(), make_context(TaskInstanceStandIn(try_number=2), store))
    assert retry["status"] == "SUCCESS" and retry["job_id"] != killed
    assert service.get(killed).status == JobStatus.CANCELLED


# -- typed failures -----------------------------------------------------------------------------------------


def test_failed_job_raises_job_failed_with_its_exit_code(service: Any) -> None:
    with pytest.raises(DataSphereJobFailed) as err:
        run(probe_op(args={"EXIT_CODE": "3"}), make_context())
    assert err.value.exit_code == 3 and err.value.job_id
    assert not isinstance(err.value, AirflowFailException)  # retries apply


def test_sensor_failures_are_typed_and_final(service: Any) -> None:
    from airflow_provider_dsjobs.exceptions import DataSphereJobFailedFinal
    from airflow_provider_dsjobs.sensors import DataSphereJobSensor

    job_id = submit_probe(service, EXIT_CODE="5")
    service.wait(job_id)
    sensor = DataSphereJobSensor(task_id="watch", job_id=job_id, poke_interval=0.2)
    with pytest.raises(DataSphereJobFailedFinal) as err:
        sensor.poke(make_context())
    assert isinstance(err.value, DataSphereJobFailed) and isinstance(err.value, AirflowFailException)
    assert err.value.exit_code == 5


def test_trigger_runs_in_an_event_loop_without_blocking_it(service: Any) -> None:
    """The trigger's blocking calls run in threads: other coroutines keep running while it polls."""
    job_id = submit_probe(service, SLEEP="2")
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.05)

    async def main() -> dict[str, Any]:
        task = asyncio.ensure_future(ticker())
        try:
            async for event in DataSphereJobTrigger(job_id=job_id, poll_interval=0.2).run():
                return dict(event.payload)
        finally:
            task.cancel()
        raise AssertionError("no event")

    assert asyncio.run(asyncio.wait_for(main(), 120))["status"] == "exited"
    assert ticks > 10


def test_cancel_requested_while_the_submitter_died_ends_cancelled(
    service: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """on_kill marked the job CANCELLING, then the worker was SIGKILLed mid-submit: once its launch lease is stale,
    the next reader ends the job CANCELLED (not ERROR, not CANCELLING forever)."""
    from airflow_provider_dsjobs.jobs import lease as lease_module
    from airflow_provider_dsjobs.jobs.submitter import JobSubmitter

    def die(*args: Any, **kwargs: Any) -> None:
        raise SystemExit("worker killed")

    store = DictTaskStateStore()
    with monkeypatch.context() as patch:
        patch.setattr(JobSubmitter, "_launch", die)
        with pytest.raises(SystemExit):
            run(probe_op(), make_context(store=store))
    [job_id] = [record.id for record in service.list_jobs()]
    assert store.data.get(STATE_JOB_ID) == (job_id if TASK_STATE_STORE else None)  # no store before Airflow 3.3
    assert service.request_cancel(job_id).status == JobStatus.CANCELLING
    monkeypatch.setattr(lease_module, "STALE_AFTER_S", 0.5)
    time.sleep(1)
    record = service.refresh(job_id)
    assert (record.status, record.status_details) == (JobStatus.CANCELLED, "cancelled before the job started")
