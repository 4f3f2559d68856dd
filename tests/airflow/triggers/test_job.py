"""DataSphereJobTrigger: serialization, one event per terminal situation, on_kill — on real jobs."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from airflow.triggers.base import TriggerEvent

from airflow_provider_dsjobs.compat import TRIGGER_ON_KILL
from airflow_provider_dsjobs.documents.record import JobStatus
from airflow_provider_dsjobs.triggers import DataSphereJobTrigger
from tests.airflow.helpers import submit_probe, wait_for_probe_started

pytestmark = [pytest.mark.docker, pytest.mark.airflow]


def events(trigger: DataSphereJobTrigger, timeout: float = 120) -> list[dict[str, Any]]:
    """Every event the trigger yields until its run() returns."""

    async def collect() -> list[dict[str, Any]]:
        out = []
        async for event in trigger.run():
            assert isinstance(event, TriggerEvent)
            out.append(dict(event.payload))
        return out

    return asyncio.run(asyncio.wait_for(collect(), timeout=timeout))


def test_serialize_exact_and_round_trip() -> None:
    trigger = DataSphereJobTrigger(
        job_id="j1",
        dsjobs_conn_id="my_conn",
        poll_interval=2,
        graceful_cancel=False,
        on_kill_action="keep",
        deadline=1767225600.5,
        stream_logs=False,
        max_poll_failures=3,
        max_failure_seconds=30,
        docker_conn_id="docker_reg",
        secret_env_names=["PROBE_NOTE"],
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_dsjobs.triggers.job.DataSphereJobTrigger"
    assert kwargs == {
        "job_id": "j1",
        "dsjobs_conn_id": "my_conn",
        "poll_interval": 2.0,
        "graceful_cancel": False,
        "on_kill_action": "keep",
        "deadline": 1767225600.5,
        "stream_logs": False,
        "max_poll_failures": 3,
        "max_failure_seconds": 30.0,
        "docker_conn_id": "docker_reg",
        "secret_env_names": ["PROBE_NOTE"],
    }
    from airflow.providers.common.compat.module_loading import import_string

    rebuilt = import_string(classpath)(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)


def test_defaults_serialize() -> None:
    assert DataSphereJobTrigger(job_id="j2").serialize()[1] == {
        "job_id": "j2",
        "dsjobs_conn_id": "dsjobs_default",
        "poll_interval": 5.0,
        "graceful_cancel": True,
        "on_kill_action": "cancel",
        "deadline": None,
        "stream_logs": True,
        "max_poll_failures": 5,
        "max_failure_seconds": 300.0,
        "docker_conn_id": None,
        "secret_env_names": [],
    }


def test_rejects_unknown_on_kill_action() -> None:
    with pytest.raises(ValueError, match="on_kill_action"):
        DataSphereJobTrigger(job_id="j", on_kill_action="delete")


def test_running_job_yields_one_exited_event(service: Any) -> None:
    job_id = submit_probe(service, SLEEP="2", EXIT_CODE="4")
    got = events(DataSphereJobTrigger(job_id=job_id, poll_interval=0.3))
    assert got == [
        {
            "status": "exited",
            "job_id": job_id,
            "job_status": "UPLOADING_OUTPUT",
            "return_code": None,
            "log_streamed": True,  # the probe's lines went into the task log while it ran
        }
    ]
    assert service.get(job_id).return_code == 4  # the trigger leaves stage-out to the task


def test_terminal_job_yields_one_terminal_event(service: Any) -> None:
    job_id = submit_probe(service)
    record = service.wait(job_id)
    got = events(DataSphereJobTrigger(job_id=job_id, poll_interval=0.3))
    assert got == [
        {
            "status": "terminal",
            "job_id": job_id,
            "job_status": "SUCCESS",
            "return_code": record.return_code,
            "log_streamed": False,  # the container is gone: the task shows the stored log's tail
        }
    ]


def test_unknown_job_yields_one_error_event(service: Any) -> None:
    got = events(DataSphereJobTrigger(job_id="j-does-not-exist", poll_interval=0.3))
    assert len(got) == 1
    assert got[0]["status"] == "error"
    assert "j-does-not-exist" in got[0]["message"]


def test_on_kill_cancels_gracefully(service: Any) -> None:
    job_id = submit_probe(service, SLEEP="60")
    wait_for_probe_started(service, job_id)
    asyncio.run(DataSphereJobTrigger(job_id=job_id).on_kill())
    record = service.get(job_id)
    assert record.status == JobStatus.CANCELLED
    assert ("stdout", "probe got SIGTERM, shutting down cleanly") in list(service.logs(job_id))


def test_on_kill_keep_leaves_job_running(service: Any) -> None:
    job_id = submit_probe(service, SLEEP="60")
    asyncio.run(DataSphereJobTrigger(job_id=job_id, on_kill_action="keep").on_kill())
    assert service.refresh(job_id).status == JobStatus.EXECUTING


def test_cancelled_job_yields_one_terminal_event(service: Any) -> None:
    job_id = submit_probe(service, SLEEP="60")
    service.cancel(job_id, graceful=False)
    got = events(DataSphereJobTrigger(job_id=job_id, poll_interval=0.3))
    assert len(got) == 1
    assert got[0]["status"] == "terminal"
    assert got[0]["job_status"] == "CANCELLED"


def cancel_running_trigger(trigger: DataSphereJobTrigger, job_id: str, service: Any) -> None:
    """What the triggerer does when it drops a trigger (user kill, shutdown, hand-over): cancel its run()."""

    async def run_then_cancel() -> None:
        async def consume() -> None:
            async for _ in trigger.run():
                raise AssertionError("the trigger fired while its job was running")

        task = asyncio.ensure_future(consume())
        while service.refresh(job_id).status != JobStatus.EXECUTING:
            await asyncio.sleep(0.2)
        await asyncio.sleep(0.5)  # run() is polling
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(asyncio.wait_for(run_then_cancel(), timeout=120))


@pytest.mark.parametrize(("task_state", "killed"), [("failed", True), ("success", True), ("deferred", False)])
def test_a_cancelled_run_cancels_the_job_only_when_its_task_was_killed(
    service: Any, monkeypatch: pytest.MonkeyPatch, task_state: str, killed: bool
) -> None:
    """Airflow < 3.3 has no BaseTrigger.on_kill: a cancelled run() asks for the task's state and calls on_kill when
    the task is no longer deferred (a user's kill), never when it still is (the triggerer stopping). On 3.3 Airflow
    calls on_kill itself, so a cancelled run() leaves the job alone and asks nothing."""
    from types import SimpleNamespace

    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

    asked: list[dict[str, Any]] = []

    def task_states(**query: Any) -> dict[str, dict[str, str]]:  # the triggerer's answer, injected
        asked.append(query)
        return {"run-1": {"probe": task_state}}

    monkeypatch.setattr(RuntimeTaskInstance, "get_task_states", staticmethod(task_states))
    job_id = submit_probe(service, SLEEP="60")
    wait_for_probe_started(service, job_id)
    trigger = DataSphereJobTrigger(job_id=job_id, poll_interval=0.2)
    trigger.task_instance = SimpleNamespace(dag_id="dag-1", task_id="probe", run_id="run-1", map_index=-1)
    cancel_running_trigger(trigger, job_id, service)
    if TRIGGER_ON_KILL:
        assert asked == []
        assert service.refresh(job_id).status == JobStatus.EXECUTING
        return
    assert asked == [{"dag_id": "dag-1", "task_ids": ["probe"], "run_ids": ["run-1"], "map_index": None}]
    if killed:
        assert service.get(job_id).status == JobStatus.CANCELLED
        assert ("stdout", "probe got SIGTERM, shutting down cleanly") in list(service.logs(job_id))
    else:
        assert service.refresh(job_id).status == JobStatus.EXECUTING


def test_a_cancelled_run_keeps_the_job_when_the_task_state_cannot_be_read(
    service: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from types import SimpleNamespace

    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

    def unreachable(**query: Any) -> dict[str, Any]:
        raise ConnectionError("supervisor gone")

    monkeypatch.setattr(RuntimeTaskInstance, "get_task_states", staticmethod(unreachable))
    job_id = submit_probe(service, SLEEP="60")
    trigger = DataSphereJobTrigger(job_id=job_id, poll_interval=0.2)
    trigger.task_instance = SimpleNamespace(dag_id="dag-1", task_id="probe", run_id="run-1", map_index=3)
    cancel_running_trigger(trigger, job_id, service)
    assert service.refresh(job_id).status == JobStatus.EXECUTING  # never cancelled on a guess
