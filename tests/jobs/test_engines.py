"""Many machines, one store: a job belongs to the engine that runs it (``jobs/ownership.py``).

Two real Docker engines on this machine (the second from ``scripts/ensure-second-engine.sh``) and one store (the
moto S3 server): a reader on the other engine changes nothing, one with the engine map asks the job's engine, and
the job's own engine finishes it with its output."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

from airflow_provider_dsjobs.config import load_config
from airflow_provider_dsjobs.documents.record import JobRecord, JobStatus
from airflow_provider_dsjobs.jobs.service import EngineElsewhere, JobService
from airflow_provider_dsjobs.runtime.engine import DEFAULT_LOCAL_URL
from airflow_provider_dsjobs.settings import EngineAddress, Settings
from tests.jobs.service_helpers import make_settings, wait_for, write_job

ENGINE_A = os.environ.get("DSJOBS_DOCKER_URL") or os.environ.get("DOCKER_HOST") or DEFAULT_LOCAL_URL
JOB = "cmd: echo hello from the job; echo result > out.txt\noutputs:\n  - out.txt\n"


@pytest.fixture()
def shared(
    request: pytest.FixtureRequest, tmp_path: Path, test_image: str, project: str, cleanup_containers: None
) -> Settings:
    """The one store (moto S3) every machine of these tests shares."""
    return make_settings("s3", request, tmp_path, test_image, project)


def on_engine(base: Settings, url: str, name: str, engines: dict[str, str] | None = None) -> Settings:
    """A machine whose engine is ``url`` (named ``name``) and whose engine map is ``engines`` (name → URL)."""
    addresses = {n: EngineAddress(u) for n, u in (engines or {}).items()}
    return dataclasses.replace(base, docker_url=url, engine_name=name, engines=addresses)


def exited_job(owner: JobService, tmp_path: Path) -> JobRecord:
    """A job the owner started whose container has exited but which nobody finalized yet."""
    record = owner.submit(load_config(write_job(tmp_path / "job", JOB)))
    wait_for(lambda: owner.runtime.state(record.container_id or "").finished, what="the job's container to exit")
    return record


def stored(service: JobService, job_id: str) -> JobRecord:
    return service.read(job_id)


def test_the_record_names_the_engine_that_runs_the_job(shared: Settings, second_engine: str, tmp_path: Path) -> None:
    owner = JobService(on_engine(shared, ENGINE_A, "engine-a"))
    record = exited_job(owner, tmp_path)
    engine = stored(owner, record.id).engine
    assert engine is not None and engine.name == "engine-a" and engine.url == ENGINE_A
    assert engine.id == owner.runtime.engine_info().engine_id
    other = JobService(on_engine(shared, second_engine, "engine-b"))
    assert other.runtime.engine_info().engine_id != engine.id  # two engines, two identities
    assert owner.get(record.id).status == JobStatus.SUCCESS


def test_a_reader_on_another_engine_changes_nothing_and_the_owner_finishes_the_job(
    shared: Settings, second_engine: str, tmp_path: Path
) -> None:
    owner = JobService(on_engine(shared, ENGINE_A, "engine-a"))
    record = exited_job(owner, tmp_path)
    before = stored(owner, record.id)
    reader = JobService(on_engine(shared, second_engine, "engine-b"))  # no way to engine-a from here

    seen = reader.get(record.id)
    assert seen.status == JobStatus.EXECUTING
    assert f"job {record.id} is running on engine engine-a (not reachable from here)" in (seen.status_details or "")
    for action in (reader.refresh, reader.finalize, reader.wait, reader.cancel, reader.request_cancel):
        with pytest.raises(EngineElsewhere, match=r"running on engine engine-a \(not reachable from here\)"):
            action(record.id)
    assert list(reader.logs(record.id)) == []  # nothing stored yet, and the engine is out of reach
    assert stored(owner, record.id) == before  # nothing was saved: no ERROR, no "disappeared", no CANCELLING
    assert owner.runtime.state(record.container_id or "") is not None  # and nothing was removed

    done = owner.wait(record.id)
    assert done.status == JobStatus.SUCCESS, done.status_details
    assert ("stdout", "hello from the job") in list(owner.logs(record.id))
    out = owner.download_files(record.id, output_dir=tmp_path / "out")
    assert [p.read_text() for p in out] == ["result\n"]


def test_a_reader_with_the_engine_map_asks_the_jobs_engine(
    shared: Settings, second_engine: str, tmp_path: Path
) -> None:
    owner = JobService(on_engine(shared, ENGINE_A, "engine-a"))
    record = exited_job(owner, tmp_path)
    reader = JobService(on_engine(shared, second_engine, "engine-b", {"engine-a": ENGINE_A}))
    assert ("stdout", "hello from the job") in list(reader.logs(record.id))  # live, from engine-a
    done = reader.get(record.id)  # finalized on engine-a, through the map
    assert done.status == JobStatus.SUCCESS, done.status_details
    assert owner.runtime.state(record.container_id or "") is None  # the owner's container went, as usual
    out = reader.download_files(record.id, output_dir=tmp_path / "out")
    assert [p.read_text() for p in out] == ["result\n"]
    reader.close()


def test_an_engine_map_entry_that_reaches_another_engine_is_not_the_jobs_engine(
    shared: Settings, second_engine: str, tmp_path: Path
) -> None:
    owner = JobService(on_engine(shared, ENGINE_A, "engine-a"))
    record = exited_job(owner, tmp_path)
    before = stored(owner, record.id)
    wrong = JobService(on_engine(shared, second_engine, "engine-b", {"engine-a": second_engine}))
    with pytest.raises(EngineElsewhere, match=f"the engine at {second_engine} is another one"):
        wrong.finalize(record.id)
    assert "not reachable from here" in (wrong.get(record.id).status_details or "")
    assert stored(owner, record.id) == before
    assert owner.get(record.id).status == JobStatus.SUCCESS


def test_a_hostile_engine_in_the_store_is_never_dialled_and_shown_on_one_line(
    shared: Settings, second_engine: str, tmp_path: Path
) -> None:
    owner = JobService(on_engine(shared, ENGINE_A, "engine-a"))
    record = exited_job(owner, tmp_path)
    key = f"projects/{shared.project}/jobs/{record.id}/record.json"
    raw = json.loads(owner.store.get_bytes(key))
    # Someone with write access to the store renames the engine and points its URL at engine-a itself.
    raw["engine"] = {"id": "NOT:THIS:ONE", "name": "evil\n\x1b[31mred", "url": ENGINE_A}
    owner.store.put_bytes(key, json.dumps(raw).encode())
    reader = JobService(on_engine(shared, second_engine, "engine-b", {"engine-a": ENGINE_A}))
    details = reader.get(record.id).status_details or ""
    assert "\n" not in details and "\x1b" not in details
    assert "running on engine 'evil\\n\\x1b[31mred' (not reachable from here)" in details
    assert stored(owner, record.id).status == JobStatus.EXECUTING  # the record's URL was not used to finish it
    assert owner.runtime.state(record.container_id or "") is not None


def test_an_old_record_without_an_engine_is_decided_only_where_its_container_is(
    shared: Settings, second_engine: str, tmp_path: Path
) -> None:
    owner = JobService(on_engine(shared, ENGINE_A, "engine-a"))
    record = exited_job(owner, tmp_path)
    key = f"projects/{shared.project}/jobs/{record.id}/record.json"
    raw = json.loads(owner.store.get_bytes(key))
    del raw["engine"]  # as written before jobs named their engine
    owner.store.put_bytes(key, json.dumps(raw).encode())

    elsewhere = JobService(on_engine(shared, second_engine, "engine-b"))
    assert "its container is not here" in (elsewhere.get(record.id).status_details or "")
    assert stored(owner, record.id).status == JobStatus.EXECUTING
    # On engine-a its container carries the job's labels: that reader decides, as before.
    assert JobService(on_engine(shared, ENGINE_A, "engine-a")).get(record.id).status == JobStatus.SUCCESS
