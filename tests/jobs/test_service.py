"""The job service end to end on a real Docker engine, with both stores (local directory and moto S3)."""

# ruff: noqa: F811  (fixtures imported from service_fixtures are redefined as test parameters)

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dsjobs.config import load_config
from airflow_provider_dsjobs.jobs.record import JobStatus
from airflow_provider_dsjobs.jobs.service import JobError, JobService
from airflow_provider_dsjobs.settings import Settings
from airflow_provider_dsjobs.storage.outputs import read_manifest
from tests.jobs.service_fixtures import (  # noqa: F401  (fixtures)
    cleanup_containers,
    local_settings,
    project,
    settings,
    wait_for,
    write_job,
)

pytestmark = [pytest.mark.docker]

PLAIN = """
name: plain
cmd: |
  set -e
  mkdir -p results
  cat prep.sh > results/copied.sh
  cat ${DATA}/a.txt ${DATA}/sub/b.txt > results/joined.txt
  cat ${PARAMS} > ${SUMMARY}
  echo "$GREETING $SECRET_TOKEN ${EPOCHS}" >> ${SUMMARY}
  env | sort > env-dump.txt
  echo "job $DSJOBS_JOB_ID running in $(pwd)"
  echo "a warning" >&2
args:
  EPOCHS: "7"
inputs:
  - prep.sh
  - data: DATA
  - params.json: PARAMS
outputs:
  - results
  - env-dump.txt
  - out/summary.txt: SUMMARY
env:
  vars:
    - GREETING: hello
    - SECRET_TOKEN
"""

FILES = {
    "prep.sh": "#!/bin/sh\necho prep\n",
    "data/a.txt": "alpha\n",
    "data/sub/b.txt": "beta\n",
    "params.json": '{"lr": 0.1}\n',
}


def _read(service: JobService, uri: str) -> str:
    store = service.store
    key = uri[len(store.url.rstrip("/")) + 1 :]
    with store.open_read(key) as fh:
        return fh.read().decode()


def _submit(service: JobService, cfg: Path, **kw: Any) -> Any:
    return service.submit(load_config(cfg), **kw)


def test_plain_job_end_to_end(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_TOKEN", "tok-123")
    cfg = write_job(tmp_path / "job", PLAIN, FILES)
    service = JobService(settings)
    messages: list[str] = []
    lines: list[tuple[str, str]] = []

    record = _submit(service, cfg, labels={"airflow.dag_id": "d1"}, notify=messages.append)
    assert record.status == JobStatus.EXECUTING
    assert record.started_at is not None and record.container_id
    assert record.labels["airflow.dag_id"] == "d1" and record.labels["dsjobs.job_id"] == record.id
    assert record.data_expires_at is not None and (record.data_expires_at - record.created_at).days == 14
    assert {(i["path"], i["var"], i["kind"]) for i in record.inputs} == {
        ("prep.sh", None, "file"),
        ("data", "DATA", "dir"),
        ("params.json", "PARAMS", "file"),
    }
    done = service.wait(record.id, log=lambda s, line: lines.append((s, line)))

    assert done.status == JobStatus.SUCCESS, done.status_details
    assert done.return_code == 0 and done.finished_at is not None
    assert [h.status for h in done.history] == [
        JobStatus.CREATING,
        JobStatus.PREPARING,
        JobStatus.EXECUTING,
        JobStatus.UPLOADING_OUTPUT,
        JobStatus.SUCCESS,
    ]
    assert ("stdout", f"job {record.id} running in /job/work") in lines
    assert ("stderr", "a warning") in lines
    assert done.missing_outputs == []
    assert _read(service, done.outputs["SUMMARY"] + "") == '{"lr": 0.1}\nhello tok-123 7\n'
    assert _read(service, done.outputs["results"] + "/joined.txt") == "alpha\nbeta\n"
    assert _read(service, done.outputs["results"] + "/copied.sh") == FILES["prep.sh"]
    env_dump = _read(service, done.outputs["env-dump.txt"])
    assert f"DSJOBS_JOB_ID={record.id}" in env_dump
    assert "DSJOBS_JOB_NAME=plain" in env_dump and f"DSJOBS_PROJECT={settings.project}" in env_dump
    assert not [line for line in env_dump.splitlines() if line.startswith("AWS_")]
    assert "testing" not in env_dump.replace("DSJOBS", "")  # the moto credentials' value

    manifest = read_manifest(service.store, service.jobs.outputs_prefix(record.id))
    assert manifest is not None and manifest["return_code"] == 0
    assert {f["path"] for f in manifest["files"]} == {
        "work/results/joined.txt",
        "work/results/copied.sh",
        "work/env-dump.txt",
        "vars/SUMMARY/summary.txt",
    }
    # The record keeps env names, never values.
    stored = json.dumps(service.jobs.load(record.id).to_dict())
    assert "tok-123" not in stored

    # Stored logs: stdout, stderr, combined with prefixes.
    assert done.logs and done.logs.endswith("log.txt")
    log_text = _read(service, done.logs)
    assert f"[OUT] job {record.id} running in /job/work" in log_text and "[ERR] a warning" in log_text
    assert list(service.logs(record.id, tail=1)) == [("system", "exit code 0; SUCCESS")]

    # Download to the config's paths, and flattened into a directory.
    paths = service.download_files(record.id)
    job_dir = tmp_path / "job"
    assert (job_dir / "results" / "joined.txt").read_text() == "alpha\nbeta\n"
    assert (job_dir / "out" / "summary.txt").read_text().endswith("hello tok-123 7\n")
    assert set(paths) >= {job_dir / "results" / "joined.txt", job_dir / "out" / "summary.txt"}
    flat = tmp_path / "flat"
    service.download_files(record.id, output_dir=flat, with_logs=True)
    assert (flat / "summary.txt").exists() and (flat / "results" / "copied.sh").exists()
    assert (flat / f"{record.id}.log.txt").read_text() == log_text

    # A second run uploads nothing: every input is in the cache.
    messages.clear()
    again = _submit(service, cfg, notify=messages.append)
    assert "uploaded 0 B (all 3 inputs cached)" in messages
    assert service.wait(again.id).status == JobStatus.SUCCESS
    assert [r.id for r in service.list_jobs()] == [again.id, record.id]
    assert service.find({"airflow.dag_id": "d1"}).id == record.id  # type: ignore[union-attr]
    assert service.find({"airflow.dag_id": "nope"}) is None


FAILING = """
cmd: |
  echo partial > written.txt
  echo "bad things" >&2
  exit 3
outputs:
  - written.txt
  - never-written.txt
"""


def test_failing_job_keeps_outputs_and_reports_missing(settings: Settings, tmp_path: Path) -> None:
    cfg = write_job(tmp_path / "job", FAILING)
    service = JobService(settings)
    record = _submit(service, cfg)
    done = service.wait(record.id)
    assert done.status == JobStatus.ERROR
    assert done.return_code == 3
    assert done.status_details == "program exited with code 3"
    assert _read(service, done.outputs["written.txt"]) == "partial\n"
    assert done.missing_outputs == ["never-written.txt"]
    log_lines = list(service.logs(record.id))
    assert ("stderr", "bad things") in log_lines
    assert any(s == "system" and "never-written.txt" in line and "not written" in line for s, line in log_lines)
    # Finalizing again changes nothing.
    before = service.jobs.load(record.id).to_dict()
    assert service.finalize(record.id).to_dict() == before
    assert service.get(record.id).to_dict() == before


GRACEFUL = """
cmd: |
  trap 'echo "saved on $(date +%s)" > state.txt; echo got-term; exit 0' TERM
  echo ready
  while true; do sleep 0.2; done
outputs:
  - state.txt
graceful-shutdown:
  signal: SIGTERM
  timeout: 30s
"""


def test_graceful_cancel_lets_the_job_save_its_state(settings: Settings, tmp_path: Path) -> None:
    cfg = write_job(tmp_path / "job", GRACEFUL)
    service = JobService(settings)
    record = _submit(service, cfg)
    wait_for(lambda: ("stdout", "ready") in list(service.logs(record.id)), what="the job to start")
    assert service.refresh(record.id).status == JobStatus.EXECUTING
    done = service.cancel(record.id, graceful=True)
    assert done.status == JobStatus.CANCELLED
    assert [h.status for h in done.history][-2:] == [JobStatus.CANCELLING, JobStatus.CANCELLED]
    assert _read(service, done.outputs["state.txt"]).startswith("saved on ")
    assert ("stdout", "got-term") in list(service.logs(record.id))
    assert service.runtime.state(record.container_id) is None  # removed


def test_cancel_without_graceful_shutdown_kills_at_once(local_settings: Settings, tmp_path: Path) -> None:
    cfg = write_job(tmp_path / "job", "cmd: echo started; sleep 300\n")
    service = JobService(local_settings)
    record = _submit(service, cfg)
    wait_for(lambda: ("stdout", "started") in list(service.logs(record.id)), what="the job to start")
    started = time.monotonic()
    done = service.cancel(record.id, graceful=True)  # graceful asked, but the config has no graceful-shutdown
    assert time.monotonic() - started < 8
    assert done.status == JobStatus.CANCELLED and done.return_code == 137
    assert service.cancel(record.id).status == JobStatus.CANCELLED  # idempotent


def test_wait_on_an_already_exited_container(local_settings: Settings, tmp_path: Path) -> None:
    cfg = write_job(tmp_path / "job", "cmd: echo one; echo two >&2\noutputs:\n  - nothing.txt\n")
    service = JobService(local_settings)
    record = _submit(service, cfg)
    wait_for(lambda: service.runtime.state(record.container_id).finished, what="the container to exit")
    assert service.refresh(record.id).status == JobStatus.UPLOADING_OUTPUT
    lines: list[tuple[str, str]] = []
    done = JobService(local_settings).wait(record.id, log=lambda s, line: lines.append((s, line)))
    assert done.status == JobStatus.SUCCESS
    assert ("stdout", "one") in lines and ("stderr", "two") in lines
    assert done.missing_outputs == ["nothing.txt"]


def test_two_finalizers_agree(local_settings: Settings, tmp_path: Path) -> None:
    import threading

    cfg = write_job(tmp_path / "job", "cmd: mkdir -p o && seq 1 200 > o/n.txt\noutputs:\n  - o\n")
    service = JobService(local_settings)
    record = _submit(service, cfg)
    wait_for(lambda: service.runtime.state(record.container_id).finished, what="the container to exit")
    results: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(JobService(local_settings).finalize(record.id))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    final = service.jobs.load(record.id)
    assert final.status == JobStatus.SUCCESS
    assert _read(service, final.outputs["o"] + "/n.txt") == "".join(f"{i}\n" for i in range(1, 201))
    assert read_manifest(service.store, service.jobs.outputs_prefix(record.id)) is not None


def test_large_log_streams_with_complete_lines(settings: Settings, tmp_path: Path) -> None:
    cmd = "cmd: |\n  python -c \"for i in range(80000): print('line %07d ' % i + 'x' * 60)\"\n"
    cfg = write_job(tmp_path / "job", cmd)
    service = JobService(settings)
    record = _submit(service, cfg)
    count = 0
    bad = 0

    def sink(stream: str, line: str) -> None:
        nonlocal count, bad
        count += 1
        if not (line.startswith("line ") and len(line) == 73):
            bad += 1

    done = service.wait(record.id, log=sink)
    assert done.status == JobStatus.SUCCESS, done.status_details
    assert (count, bad) == (80000, 0)
    stored = [line for s, line in service.logs(record.id) if s == "stdout"]
    assert len(stored) == 80000 and stored[-1] == "line 0079999 " + "x" * 60
    assert next(iter(service.logs(record.id, tail=2))) == ("stdout", "line 0079999 " + "x" * 60)


def test_output_dataset_published_and_used_by_id(local_settings: Settings, tmp_path: Path) -> None:
    producer = """
cmd: mkdir -p ${OUT}/part && echo 1,2 > ${OUT}/part/rows.csv
output-datasets:
  - name: rows
    var: OUT
    size: 1GB
    description: some rows
    labels:
      kind: test
"""
    service = JobService(local_settings)
    done = service.wait(_submit(service, write_job(tmp_path / "p", producer)).id)
    assert done.status == JobStatus.SUCCESS, done.status_details
    ds_id = done.output_datasets["rows"]
    manifest = read_manifest(service.store, service.jobs.datasets_prefix(ds_id))
    assert manifest is not None
    assert (manifest["name"], manifest["description"], manifest["labels"], manifest["job_id"]) == (
        "rows",
        "some rows",
        {"kind": "test"},
        done.id,
    )
    consumer = f"cmd: cat ${{DS}}/part/rows.csv ${{{ds_id}}}/part/rows.csv\ndatasets:\n  - {ds_id}: DS\n"
    lines: list[tuple[str, str]] = []
    used = service.wait(
        _submit(service, write_job(tmp_path / "c", consumer)).id, log=lambda s, line: lines.append((s, line))
    )
    assert used.status == JobStatus.SUCCESS, used.status_details
    assert lines.count(("stdout", "1,2")) == 2
    unknown = "cmd: ls ${DS}\ndatasets:\n  - zzzzzzzzzzzzzzzzzzzz: DS\n"
    with pytest.raises(JobError, match="unknown dataset 'zzzzzzzzzzzzzzzzzzzz'"):
        _submit(service, write_job(tmp_path / "u", unknown))


def test_unreachable_engine_leaves_an_error_record(local_settings: Settings, tmp_path: Path) -> None:
    import dataclasses

    bad = dataclasses.replace(local_settings, docker_url="tcp://127.0.0.1:1")
    service = JobService(bad)
    with pytest.raises(JobError) as info:
        _submit(service, write_job(tmp_path / "job", "cmd: echo hi\n"))
    message = str(info.value)
    assert "\n" not in message and "cannot reach the Docker engine at tcp://127.0.0.1:1" in message
    (record,) = service.list_jobs()
    assert record.status == JobStatus.ERROR and record.status_details == message


def test_missing_image_leaves_an_error_record(local_settings: Settings, tmp_path: Path) -> None:
    cfg = write_job(tmp_path / "job", "cmd: echo hi\nenv:\n  docker: dsjobs-test/does-not-exist:0\n")
    service = JobService(local_settings)
    with pytest.raises(JobError, match="dsjobs-test/does-not-exist:0") as info:
        _submit(service, cfg)
    assert "\n" not in str(info.value)
    (record,) = service.list_jobs()
    assert record.status == JobStatus.ERROR and "does-not-exist" in (record.status_details or "")
    assert record.container_id is None


def test_unknown_store_scheme_is_one_line_and_writes_nothing(tmp_path: Path, test_image: str) -> None:
    service = JobService(Settings(store_url="ftp://host/x", default_image=test_image, home=tmp_path))
    with pytest.raises(JobError, match="unknown store URL scheme 'ftp'") as info:
        _submit(service, write_job(tmp_path / "job", "cmd: echo hi\n"))
    assert "\n" not in str(info.value)


def test_set_data_ttl_and_unknown_job(local_settings: Settings, tmp_path: Path) -> None:
    service = JobService(local_settings)
    record = service.wait(_submit(service, write_job(tmp_path / "job", "cmd: exit 0\n")).id)
    forever = service.set_data_ttl(record.id, None)
    assert forever.data_expires_at is None and service.get(record.id).data_expires_at is None
    week = service.set_data_ttl(record.id, 7)
    assert week.data_expires_at is not None and 6 <= (week.data_expires_at - week.finished_at).days <= 7  # type: ignore[operator]
    with pytest.raises(JobError, match="not found"):
        service.get("j20000101-000000000-nothere0")
