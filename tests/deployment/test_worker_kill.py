"""A worker dies (SIGKILL: machine gone) while its task's job runs; the retry on the other worker re-attaches."""

from __future__ import annotations

import time

import pytest

from tests.deployment.harness import Deployment, wait_until

pytestmark = pytest.mark.deployment

DAG_ID = "deploy_kill"


def test_killed_worker_retry_reattaches_on_the_other_worker(deployment: Deployment) -> None:
    run_id = deployment.trigger(DAG_ID, conf={"seconds": 60})
    labels = {"airflow.dag_id": DAG_ID, "airflow.run_id": run_id}

    def running_container() -> object:
        found = [c for c in deployment.containers(**labels) if c.status == "running"]
        return found[0] if found and b"tick" in found[0].logs() else None

    container = wait_until(running_container, timeout=300, what="the job's container to run")
    first = deployment.task_instance(DAG_ID, run_id, "slow")
    victim = first["hostname"]
    assert first["try_number"] == 1 and victim in deployment.workers
    survivor = next(w for w in deployment.workers if w != victim)

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

    result = deployment.xcom(DAG_ID, run_id, "slow")
    assert result["status"] == "SUCCESS"
    # Exactly one job and one container for the task, and it is the one the first try started.
    jobs = deployment.run_jobs(DAG_ID, run_id)
    assert [j.id for j in jobs] == [result["job_id"]]
    assert jobs[0].container_id == container.id  # type: ignore[attr-defined]
    assert containers_seen <= {container.id}  # type: ignore[attr-defined]
    assert deployment.containers(**labels) == []
    # The job ran to its end once (60 ticks, not restarted) and its output was committed once.
    assert "tick 60" in "".join(line for _, line in deployment.jobs.logs(result["job_id"]))
    versions = deployment.object_versions(result["job_id"])
    assert versions and set(versions.values()) == {1}, versions
    assert "result.txt" in " ".join(versions)
