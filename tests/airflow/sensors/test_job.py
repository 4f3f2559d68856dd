"""DataSphereJobSensor on real jobs: poke states, finalize on completion, failure/skip, deferrable."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from airflow.sdk import PokeReturnValue

from airflow_provider_dsjobs.compat import AirflowException, AirflowFailException, AirflowSkipException, TaskDeferred
from airflow_provider_dsjobs.documents.record import JobStatus
from airflow_provider_dsjobs.sensors import DataSphereJobSensor
from airflow_provider_dsjobs.triggers import DataSphereJobTrigger
from tests.airflow.helpers import TaskInstanceStandIn, make_context, read_uri, submit_probe

pytestmark = [pytest.mark.docker, pytest.mark.airflow]


def poke_until_done(sensor: DataSphereJobSensor, timeout: float = 60) -> PokeReturnValue:
    """What the sensor loop (poke or reschedule mode) does: a fresh poke each time, nothing carried over."""
    deadline = time.monotonic() + timeout
    while True:
        result = sensor.poke(make_context())
        if result.is_done:
            return result
        assert time.monotonic() < deadline
        time.sleep(0.3)


def test_poke_false_while_running_then_done_with_result(service: Any) -> None:
    job_id = submit_probe(service, SLEEP="2")
    sensor = DataSphereJobSensor(task_id="wait", job_id=job_id, mode="reschedule")
    first = sensor.poke(make_context())
    assert first.is_done is False

    # A new instance per poke, as in reschedule mode: nothing kept on the sensor.
    done = poke_until_done(DataSphereJobSensor(task_id="wait", job_id=job_id, mode="reschedule"))
    assert done.xcom_value["status"] == "SUCCESS"
    assert done.xcom_value["job_id"] == job_id
    assert read_uri(done.xcom_value["outputs"]["RESULT"]) == "probe done\n"
    assert done.xcom_value["result"] == {"exit_code": 0, "message": "probe done"}
    assert service.get(job_id).status == JobStatus.SUCCESS  # stage-out finished by the sensor


def test_already_finalized_job_is_done_at_first_poke(service: Any) -> None:
    job_id = submit_probe(service)
    finished = service.wait(job_id)
    result = DataSphereJobSensor(task_id="wait", job_id=job_id).poke(make_context())
    assert result.is_done
    assert result.xcom_value["logs"] == finished.logs


def test_failed_job_fails_without_retries(service: Any) -> None:
    job_id = submit_probe(service, EXIT_CODE="2")
    with pytest.raises(AirflowFailException, match=f"Job {job_id} ended ERROR"):
        poke_until_done(DataSphereJobSensor(task_id="wait", job_id=job_id))


def test_cancelled_job_fails(service: Any) -> None:
    job_id = submit_probe(service, SLEEP="60")
    service.cancel(job_id, graceful=False)
    with pytest.raises(AirflowFailException, match="CANCELLED"):
        DataSphereJobSensor(task_id="wait", job_id=job_id).poke(make_context())


def test_skip_on_exit_code(service: Any) -> None:
    job_id = submit_probe(service, EXIT_CODE="7")
    with pytest.raises(AirflowSkipException):
        poke_until_done(DataSphereJobSensor(task_id="wait", job_id=job_id, skip_on_exit_code=[7]))


def test_job_id_is_templated() -> None:
    assert "job_id" in DataSphereJobSensor.template_fields


def test_deferrable_defers_with_keep_trigger_and_completes(service: Any) -> None:
    job_id = submit_probe(service, SLEEP="2")
    sensor = DataSphereJobSensor(task_id="wait", job_id=job_id, deferrable=True, poke_interval=1, timeout=300)
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(make_context())
    trigger = deferred.value.trigger
    assert isinstance(trigger, DataSphereJobTrigger)
    assert trigger.on_kill_action == "keep"  # the sensor does not own the job
    assert deferred.value.timeout is not None and deferred.value.timeout.total_seconds() == 300

    async def first() -> dict[str, Any]:
        async for event in trigger.run():
            return dict(event.payload)
        raise AssertionError("no event")

    event = asyncio.run(asyncio.wait_for(first(), timeout=60))
    ti = TaskInstanceStandIn()
    result = sensor.execute_complete(make_context(ti), event=event)
    assert result["status"] == "SUCCESS"
    assert result["result"] == ti.xcoms["result"] == {"exit_code": 0, "message": "probe done"}


def test_deferrable_returns_inline_when_already_done(service: Any) -> None:
    job_id = submit_probe(service)
    service.wait(job_id)
    sensor = DataSphereJobSensor(task_id="wait", job_id=job_id, deferrable=True)
    assert sensor.execute(make_context())["status"] == "SUCCESS"


def test_unknown_job_fails_with_one_line_reason(service: Any) -> None:
    with pytest.raises(AirflowException, match=r"j-nope.*not found") as err:
        DataSphereJobSensor(task_id="wait", job_id="j-nope").poke(make_context())
    assert type(err.value) is AirflowException


def test_sensor_publishes_output_dataset_asset_events_like_the_operator(service: Any) -> None:
    from airflow.sdk import AssetAlias

    from airflow_provider_dsjobs.config import load_config
    from tests.airflow.helpers import PROBE_DIR

    job_id = str(service.submit(load_config(PROBE_DIR / "dataset.yaml")).id)
    sensor = DataSphereJobSensor(task_id="watch", job_id=job_id, dataset_alias="watch-alias", poke_interval=0.2)
    assert AssetAlias("watch-alias") in sensor.outlets
    deadline = time.monotonic() + 60
    context = make_context()
    while not (result := sensor.poke(context)).is_done:
        assert time.monotonic() < deadline
        time.sleep(0.3)
    dataset_id = result.xcom_value["output_datasets"]["probe-rows"]
    events = context["outlet_events"][AssetAlias("watch-alias")].asset_alias_events
    assert [(e.dest_asset_key.uri, e.extra) for e in events] == [
        ("dsjobs://default/datasets/probe-rows", {"dataset_id": dataset_id, "job_id": job_id, "size": 1 << 20})
    ]
