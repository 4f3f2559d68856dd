"""DataSphereJobTrigger: serialization, one event per terminal situation, on_kill — on real jobs."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from airflow.triggers.base import TriggerEvent

from airflow_provider_dsjobs.jobs.record import JobStatus
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
