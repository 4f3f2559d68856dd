"""A worker dies (SIGKILL: machine gone) while its task's job runs on that worker's engine; the retry lands on the
other worker, whose engine is another one: it re-attaches through the engine the job record names, or, when that
engine is out of its reach too, fails saying so instead of starting a second job."""

from __future__ import annotations

import time

import pytest

from tests.deployment.harness import Deployment, wait_until

pytestmark = pytest.mark.deployment

DAG_ID = "deploy_kill"


def _running_job(deployment: Deployment, labels: dict[str, str]) -> tuple[object, str, str]:
    """The task's running container, the worker that runs it and the other one."""

    def running_container() -> object:
        found = [c for c in deployment.containers(**labels) if c.status == "running"]
        return found[0] if found and b"tick" in found[0].logs() else None

    container = wait_until(running_container, timeout=300, what="the job's container to run")
    first = deployment.task_instance(DAG_ID, labels["airflow.run_id"], "slow")
    victim = first["hostname"]
    assert first["try_number"] == 1 and victim in deployment.workers
    return container, victim, next(w for w in deployment.workers if w != victim)


def test_killed_worker_retry_reattaches_on_the_other_worker(deployment: Deployment) -> None:
    run_id = deployment.trigger(DAG_ID, conf={"seconds": 60})
    labels = {"airflow.dag_id": DAG_ID, "airflow.run_id": run_id}
    container, victim, survivor = _running_job(deployment, labels)
    engine = deployment.engine_of[victim]
    assert [c.id for c in deployment.engine_containers(engine, **labels)] == [container.id]  # type: ignore[attr-defined]

    deployment.kill_worker(victim)
    containers_seen: set[str] = set()
    try:
        while deployment.run(DAG_ID, run_id)["state"] not in ("success", "failed"):
            containers_seen |= {c.id for c in deployment.containers(**labels)}
            time.sleep(2)
    finally:
        deployment.start_worker(victim)

    assert deployment.run(DAG_ID, run_id)["state"] == "success"
    tries = deployment.tries(DAG_ID, run_id, "slow")
    assert [(t["try_number"], t["hostname"]) for t in tries] == [(1, victim), (2, survivor)]
    assert tries[1]["state"] == "success"
    assert deployment.engine_of[survivor] != engine  # the retry ran on another engine than the job

    result = deployment.xcom(DAG_ID, run_id, "slow")
    assert result["status"] == "SUCCESS"
    # Exactly one job and one container for the task, and it is the one the first try started on its engine.
    jobs = deployment.run_jobs(DAG_ID, run_id)
    assert [j.id for j in jobs] == [result["job_id"]]
    assert jobs[0].engine is not None and jobs[0].engine.name == engine
    assert jobs[0].container_id == container.id  # type: ignore[attr-defined]
    assert containers_seen <= {container.id}  # type: ignore[attr-defined]
    assert deployment.containers(**labels) == []
    assert "Re-attaching to job" in deployment.task_log(DAG_ID, run_id, "slow", try_number=2)
    # The job ran to its end once (60 ticks, not restarted) and its output was committed once.
    assert "tick 60" in "".join(line for _, line in deployment.jobs.logs(result["job_id"]))
    versions = deployment.object_versions(result["job_id"])
    assert versions and set(versions.values()) == {1}, versions
    assert "result.txt" in " ".join(versions)


def test_a_retry_that_cannot_reach_the_jobs_engine_fails_instead_of_starting_a_second_job(
    deployment: Deployment,
) -> None:
    run_id = deployment.trigger(DAG_ID, conf={"seconds": 90})
    labels = {"airflow.dag_id": DAG_ID, "airflow.run_id": run_id}
    container, victim, survivor = _running_job(deployment, labels)
    engine = deployment.engine_of[victim]

    deployment.kill_worker(victim)
    deployment.cut_off(engine)  # the whole machine is gone: its engine too, from the survivor's point of view
    try:
        state = wait_until(
            lambda: (s := deployment.run(DAG_ID, run_id)["state"]) in ("success", "failed") and s,
            timeout=300,
            what="the run to end",
        )
        jobs = deployment.run_jobs(DAG_ID, run_id)
    finally:
        deployment.reconnect(engine)
        deployment.start_worker(victim)

    assert state == "failed"
    tries = deployment.tries(DAG_ID, run_id, "slow")
    assert [(t["try_number"], t["hostname"]) for t in tries] == [(1, victim), (2, survivor)]
    log = deployment.task_log(DAG_ID, run_id, "slow", try_number=2)
    assert f"is running on engine {engine} (not reachable from here)" in log
    assert "not starting a second job" in log
    assert len(jobs) == 1 and not jobs[0].status.terminal  # one job, left alone, still running on its engine
    assert [c.id for c in deployment.engine_containers(engine, **labels)] == [container.id]  # type: ignore[attr-defined]
    deployment.jobs.cancel(jobs[0].id, graceful=False)  # engine-a's reader reaches it again: clean up
    assert deployment.containers(**labels) == []
