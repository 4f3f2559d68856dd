"""A retry that lands on a worker with another engine (``jobs/ownership.py``): it re-attaches through the job's
engine when its engine map reaches it, and otherwise fails saying so instead of starting a second job."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from airflow_provider_dsjobs.exceptions import DataSphereInfrastructureError
from airflow_provider_dsjobs.jobs.service import JobService
from tests.airflow.helpers import DictTaskStateStore, TaskInstanceStandIn, make_context
from tests.airflow.operators.test_job import crashed_try, probe_op, run

pytestmark = [pytest.mark.docker, pytest.mark.airflow]


@pytest.mark.parametrize("remembered", [True, False], ids=["task-state-store", "labels"])
def test_a_retry_on_another_engine_reattaches_through_the_recorded_engine_or_says_why_not(
    second_engine: str, service: Any, monkeypatch: pytest.MonkeyPatch, remembered: bool
) -> None:
    # The first try ran on the worker whose engine is the second one, and died.
    first_worker = JobService(dataclasses.replace(service.settings, docker_url=second_engine, engine_name="worker-b"))
    store = DictTaskStateStore()
    first = crashed_try(first_worker, store if remembered else None, SLEEP="1")

    # The retry lands on this worker (the first engine), whose connection cannot reach worker-b's engine.
    monkeypatch.setenv("DSJOBS_ENGINE_NAME", "worker-a")
    with pytest.raises(DataSphereInfrastructureError) as caught:
        run(probe_op(args={"SLEEP": "1"}), make_context(TaskInstanceStandIn(try_number=2), store))
    message = str(caught.value)
    assert f"job {first} is running on engine worker-b (not reachable from here)" in message
    assert "not starting a second job" in message
    assert [r.id for r in service.list_jobs()] == [first]  # no second job
    assert not service.read(first).status.terminal  # and the first one was left alone

    # With worker-b's engine in its map, the next retry re-attaches through it and collects the result.
    monkeypatch.setenv("DSJOBS_ENGINES", json.dumps({"worker-b": second_engine}))
    ti = TaskInstanceStandIn(try_number=3)
    result = run(probe_op(args={"SLEEP": "1"}), make_context(ti, store))
    assert (result["job_id"], result["status"]) == (first, "SUCCESS")
    assert [r.id for r in service.list_jobs()] == [first]
    assert first_worker.runtime.find({"dsjobs.job_id": first}) == []  # finalized on its engine: container removed
    first_worker.close()


def test_a_sensor_on_another_worker_asks_the_jobs_engine_or_changes_nothing(
    second_engine: str, service: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_dsjobs.sensors import DataSphereJobSensor
    from tests.airflow.helpers import submit_probe
    from tests.jobs.service_helpers import wait_for

    elsewhere = JobService(dataclasses.replace(service.settings, docker_url=second_engine, engine_name="worker-b"))
    job_id = submit_probe(elsewhere)
    wait_for(lambda: elsewhere.runtime.state(elsewhere.read(job_id).container_id or "").finished, what="the exit")
    before = service.read(job_id)

    monkeypatch.setenv("DSJOBS_ENGINE_NAME", "worker-a")
    with pytest.raises(DataSphereInfrastructureError, match=r"running on engine worker-b \(not reachable from here\)"):
        DataSphereJobSensor(task_id="wait", job_id=job_id).poke(make_context())
    assert service.read(job_id) == before  # its exited container was neither finalized nor called disappeared

    monkeypatch.setenv("DSJOBS_ENGINES", json.dumps({"worker-b": second_engine}))
    done = DataSphereJobSensor(task_id="wait", job_id=job_id).poke(make_context())
    assert done.is_done and done.xcom_value["status"] == "SUCCESS"
    elsewhere.close()
