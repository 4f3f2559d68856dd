"""The Jobs page on an api-server whose engine is not the job's: it shows the stored state and never ends the job
(``jobs/ownership.py``); the job's own engine finishes it afterwards."""

from __future__ import annotations

import dataclasses
import json

from airflow_provider_dsjobs.documents.record import JobStatus
from airflow_provider_dsjobs.jobs.service import JobService
from tests.airflow.plugins.helpers import ApiServer, run_echo
from tests.jobs.service_helpers import wait_for


def test_a_page_read_from_an_api_server_without_the_jobs_engine_never_ends_it(
    api_server: ApiServer, second_engine: str
) -> None:
    # The job runs on the second engine; the api-server only knows its own (the first) and names no others.
    owner = JobService(dataclasses.replace(api_server.settings(), docker_url=second_engine, engine_name="engine-b"))
    try:
        record = run_echo(owner, wait=False)
        wait_for(lambda: owner.runtime.state(record.container_id or "").finished, what="the job's container to exit")
        before = owner.read(record.id)

        job = api_server.json(f"/dsjobs/api/jobs/{record.id}")
        assert job["status"] == "EXECUTING"
        listed = api_server.json("/dsjobs/api/jobs")
        assert record.id in [j["id"] for j in listed["jobs"]]
        status, _, body = api_server.request(f"/dsjobs/api/jobs/{record.id}/logs")
        assert status == 200 and [json.loads(line) for line in body.splitlines()] == []  # nothing stored yet
        assert owner.read(record.id) == before  # no ERROR, no "container disappeared"
        assert owner.runtime.state(record.container_id or "") is not None

        done = owner.wait(record.id)
        assert done.status == JobStatus.SUCCESS, done.status_details
        lines = api_server.request(f"/dsjobs/api/jobs/{record.id}/logs")[2].splitlines()
        assert {"stream": "stdout", "line": "hello from the plugin job, line 0"} in [json.loads(x) for x in lines]
    finally:
        owner.close()
