"""The job service end to end on a real Docker engine, with both stores (local directory and moto S3)."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dsjobs.config import Overrides, load_config
from airflow_provider_dsjobs.documents.record import JobStatus
from airflow_provider_dsjobs.jobs.manifest import read_outputs_manifest
from airflow_provider_dsjobs.jobs.plan_doc import read_plan_doc
from airflow_provider_dsjobs.jobs.service import JobError, JobService
from airflow_provider_dsjobs.resources.datasets import read_dataset_manifest
from airflow_provider_dsjobs.settings import Settings
from airflow_provider_dsjobs.storage.digests import hash_of
from tests.jobs.service_helpers import PYENV, wait_for, write_job

pytestmark = [pytest.mark.docker]

PLAIN = """
name: plain
cmd: |
  set -e
  mkdir -p results
  cat prep.sh > results/copied.sh
  ./prep.sh > results/prep-out.txt
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
    (tmp_path / "job" / "prep.sh").chmod(0o755)  # ./prep.sh must run in the container
    service = JobService(settings)
    messages: list[str] = []
    lines: list[tuple[str, str]] = []

    record = _submit(service, cfg, labels={"airflow.dag_id": "d1"}, notify=messages.append)
    assert record.status == JobStatus.EXECUTING
    assert record.started_at is not None and record.container_id
    assert record.labels["airflow.dag_id"] == "d1" and record.labels["dsjobs.job_id"] == record.id
    assert record.data_expires_at is not None and (record.data_expires_at - record.created_at).days == 14
    assert {(i.path, i.var, i.kind) for i in record.inputs} == {
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
    assert _read(service, done.outputs["results"] + "/prep-out.txt") == "prep\n"
    env_dump = _read(service, done.outputs["env-dump.txt"])
    assert f"DSJOBS_JOB_ID={record.id}" in env_dump
    assert "DSJOBS_JOB_NAME=plain" in env_dump and f"DSJOBS_PROJECT={settings.project}" in env_dump
    assert not [line for line in env_dump.splitlines() if line.startswith("AWS_")]
    assert "testing" not in env_dump.replace("DSJOBS", "")  # the moto credentials' value

    manifest = read_outputs_manifest(service.jobs, record.id)
    assert manifest is not None and manifest.return_code == 0
    assert {f.path for f in manifest.files} == {
        "work/results/joined.txt",
        "work/results/copied.sh",
        "work/results/prep-out.txt",
        "work/env-dump.txt",
        "vars/SUMMARY/summary.txt",
    }
    # The record keeps env names, never values.
    stored = json.dumps(service.jobs.load(record.id).to_doc())
    assert "tok-123" not in stored
    for info in service.store.list(service.jobs.job_prefix(record.id)):
        if info.key.endswith(".json"):
            assert b"tok-123" not in service.store.get_bytes(info.key), info.key

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
    (tmp_path / "job" / "written.txt").mkdir()
    with pytest.raises(JobError, match="it is a directory"):
        service.download_files(record.id)
    assert done.missing_outputs == ["never-written.txt"]
    log_lines = list(service.logs(record.id))
    assert ("stderr", "bad things") in log_lines
    assert any(s == "system" and "never-written.txt" in line and "not written" in line for s, line in log_lines)
    # Finalizing again changes nothing.
    before = service.jobs.load(record.id).to_doc()
    assert service.finalize(record.id).to_doc() == before
    assert service.get(record.id).to_doc() == before


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
    assert service.find({"dsjobs.job_id": record.id}).id == record.id  # type: ignore[union-attr]
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
    with pytest.raises(JobError, match=r"still running after 0\.5 s"):
        service.wait(record.id, timeout=0.5, poll_interval=0.1)
    assert service.get(record.id).status == JobStatus.EXECUTING
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
    assert read_outputs_manifest(service.jobs, record.id) is not None


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

    import tracemalloc

    tracemalloc.start()
    try:
        done = service.wait(record.id, log=sink)  # streams ~6 MB live, then reads it again to store it
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert done.status == JobStatus.SUCCESS, done.status_details
    assert (count, bad) == (80000, 0)
    assert peak < 4 * 1024 * 1024, f"peak {peak} bytes: the log (6 MB) was held in memory"
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
    manifest = read_dataset_manifest(service.jobs, ds_id)
    assert manifest is not None
    assert (manifest.name, manifest.description, manifest.labels, manifest.job_id) == (
        "rows",
        "some rows",
        {"kind": "test"},
        done.id,
    )
    assert [f.path for f in manifest.files] == ["part/rows.csv"] and manifest.size == 4
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

    bad = dataclasses.replace(local_settings, docker_url="tcp://127.0.0.1:1", docker_allow_insecure=True)
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


def test_unknown_store_scheme_is_one_line(tmp_path: Path) -> None:
    service = JobService(Settings(store_url="ftp://host/x", default_image="unused:image", home=tmp_path))
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


def test_python_environment_is_built_and_used(pyenv_settings: Settings, tmp_path: Path) -> None:
    files = {
        "main.py": "import sys\nfrom lib.util import greet\nprint(greet(), sys.prefix)\n",
        "lib/__init__.py": "",
        "lib/util.py": "def greet():\n    return 'hi from lib'\n",
        "requirements.txt": "",
    }
    service = JobService(pyenv_settings)
    lines: list[tuple[str, str]] = []
    record = _submit(service, write_job(tmp_path / "job", PYENV, files))
    done = service.wait(record.id, log=lambda s, line: lines.append((s, line)))
    assert done.status == JobStatus.SUCCESS, done.status_details
    out = [line for s, line in lines if s == "stdout" and not line.startswith("dsjobs-pyenv:")]
    assert len(out) == 1 and out[0].startswith("hi from lib /opt/dsjobs/envs/") and out[0].endswith("/venv")


def test_python_environment_build_failure_is_reported(pyenv_settings: Settings, tmp_path: Path) -> None:
    config = PYENV + "    pip:\n      index-url: http://127.0.0.1:9/simple\n"
    files = {
        "main.py": "print('never runs')\n",
        "lib/__init__.py": "",
        "requirements.txt": f"dsjobs-no-such-package-{uuid.uuid4().hex[:8]}==1.0\n",
    }
    service = JobService(pyenv_settings)
    done = service.wait(_submit(service, write_job(tmp_path / "job", config, files)).id)
    assert done.status == JobStatus.ERROR
    details = done.status_details or ""
    assert details.startswith("Python environment build failed: pip install failed")
    assert "No matching distribution found for dsjobs-no-such-package-" in details
    assert "never runs" not in [line for _, line in service.logs(done.id)]


def test_a_stale_overwrite_after_finalize_is_repaired_from_the_manifest(
    local_settings: Settings, tmp_path: Path
) -> None:
    """A slow second finalizer may save UPLOADING_OUTPUT over the winner's terminal record just before the
    winner removes the container. The committed output manifest brings the record back to the true result."""
    cfg = write_job(tmp_path / "job", "cmd: echo 5 > n.txt; exit 2\noutputs:\n  - n.txt\n")
    service = JobService(local_settings)
    record = _submit(service, cfg)
    wait_for(lambda: service.runtime.state(record.container_id).finished, what="the container to exit")
    stale = service.jobs.load(record.id)
    stale.set_status(JobStatus.UPLOADING_OUTPUT)
    done = service.finalize(record.id)
    assert done.status == JobStatus.ERROR and done.return_code == 2
    service.jobs.save(stale)  # the loser's late write
    repaired = JobService(local_settings).finalize(record.id)
    assert repaired.status == JobStatus.ERROR
    assert (repaired.return_code, repaired.status_details) == (2, "program exited with code 2")
    assert repaired.outputs == done.outputs and repaired.logs == done.logs
    assert service.jobs.load(record.id).status == JobStatus.ERROR


def test_s3_mount_objects_are_copied_in_without_credentials(
    local_settings: Settings, s3_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    client = boto3.client("s3", endpoint_url=s3_env["endpoint"], region_name="us-east-1")
    client.put_object(Bucket=s3_env["bucket"], Key="mounted/x.txt", Body=b"from s3\n")
    client.put_object(Bucket=s3_env["bucket"], Key="mounted/sub/y.txt", Body=b"nested\n")
    client.put_object(Bucket=s3_env["bucket"], Key="elsewhere/z.txt", Body=b"not mounted\n")
    monkeypatch.setenv("DSJOBS_S3_MOUNT_MYDATA", f"s3://{s3_env['bucket']}/mounted")
    cfg = write_job(
        tmp_path / "job",
        "cmd: cat ${M}/x.txt ${mydata}/sub/y.txt; ls -R ${M} | wc -l; env | grep -c '^AWS_' || true\n"
        "s3-mounts:\n  - mydata: M\n",
    )
    service = JobService(local_settings)
    lines: list[tuple[str, str]] = []
    done = service.wait(_submit(service, cfg).id, log=lambda s, line: lines.append((s, line)))
    assert done.status == JobStatus.SUCCESS, done.status_details
    out = [line for s, line in lines if s == "stdout"]
    assert out[:2] == ["from s3", "nested"]
    assert out[-1] == "0"  # no AWS_* variable inside the container
    monkeypatch.delenv("DSJOBS_S3_MOUNT_MYDATA")
    with pytest.raises(JobError, match="DSJOBS_S3_MOUNT_MYDATA"):
        _submit(service, cfg)


@pytest.mark.parametrize("moment", ["created job", "container dsjobs-"])
def test_cancel_while_the_job_is_being_submitted(
    local_settings: Settings, tmp_path: Path, docker_client: Any, moment: str
) -> None:
    cfg = write_job(tmp_path / "job", "cmd: echo should-not-run; sleep 60\ninputs:\n  - a.txt\n", {"a.txt": "a"})
    service = JobService(local_settings)
    cancelled: list[str] = []

    def notify(message: str) -> None:
        if message.startswith(moment) and not cancelled:
            job_id = service.list_jobs()[0].id
            cancelled.append(JobService(local_settings).cancel(job_id).status.value)

    record = _submit(service, cfg, notify=notify)
    assert cancelled == ["CANCELLED"]
    assert record.status == JobStatus.CANCELLED
    assert service.get(record.id).status == JobStatus.CANCELLED
    assert not docker_client.containers.list(all=True, filters={"label": f"dsjobs.job_id={record.id}"})


def test_links_in_an_output_directory_are_skipped(local_settings: Settings, tmp_path: Path) -> None:
    cfg = write_job(
        tmp_path / "job",
        "cmd: mkdir -p out/d && echo data > out/d/f.txt && ln -s /etc/passwd out/passwd && ln -s d/f.txt out/rel\n"
        "outputs:\n  - out\n",
    )
    service = JobService(local_settings)
    done = service.wait(_submit(service, cfg).id)
    assert done.status == JobStatus.SUCCESS, done.status_details
    manifest = read_outputs_manifest(service.jobs, done.id)
    assert manifest is not None and [f.path for f in manifest.files] == ["work/out/d/f.txt"]


def test_missing_bucket_is_one_line(s3_env: dict[str, str], tmp_path: Path, test_image: str) -> None:
    settings = Settings(
        store_url="s3://dsjobs-no-such-bucket-anywhere/p",
        s3_endpoint_url=s3_env["endpoint"],
        default_image=test_image,
        home=tmp_path,
    )
    with pytest.raises(JobError, match="dsjobs-no-such-bucket-anywhere") as info:
        _submit(JobService(settings), write_job(tmp_path / "job", "cmd: echo hi\n"))
    assert "\n" not in str(info.value)


def test_project_disk_is_mounted_read_only(
    local_settings: Settings, tmp_path: Path, docker_client: Any, test_image: str, project: str
) -> None:
    from airflow_provider_dsjobs.resources.project_disk import project_volume_name

    volume = project_volume_name(project)
    docker_client.containers.run(
        test_image,
        ["sh", "-c", "echo shared > /data/f.txt"],
        volumes={volume: {"bind": "/data", "mode": "rw"}},
        labels={"dsjobs.project": project},
        remove=True,
    )
    try:
        cfg = write_job(
            tmp_path / "job",
            "cmd: cat ${DS_PROJECT_HOME}/f.txt; echo $DS_PROJECT_HOME; touch ${DS_PROJECT_HOME}/new || echo read-only\n"
            "flags:\n  - attach-project-disk\n",
        )
        service = JobService(local_settings)
        lines: list[tuple[str, str]] = []
        done = service.wait(_submit(service, cfg).id, log=lambda s, line: lines.append((s, line)))
        assert done.status == JobStatus.SUCCESS, done.status_details
        assert [line for s, line in lines if s == "stdout"] == ["shared", "/job/project", "read-only"]
    finally:
        with contextlib.suppress(Exception):
            docker_client.volumes.get(volume).remove(force=True)


def test_input_hashes_are_kept_in_the_home_for_the_next_process(local_settings: Settings, tmp_path: Path) -> None:
    import dataclasses
    import os

    from airflow_provider_dsjobs.storage.hash_cache import CACHE_FILE, PersistentHashMemo
    from airflow_provider_dsjobs.storage.hashing import stat_key

    cfg = write_job(tmp_path / "job", "cmd: cat data.txt\ninputs:\n  - data.txt\n", {"data.txt": "remember me\n"})
    data = (tmp_path / "job" / "data.txt").absolute()
    os.utime(data, (1_000_000, 1_000_000))  # not modified moments ago: its hash may be recorded
    off = dataclasses.replace(local_settings, home=tmp_path / "home-off", hash_cache=False)
    assert JobService(off).wait(_submit(JobService(off), cfg).id).status == JobStatus.SUCCESS
    assert not (tmp_path / "home-off" / "cache").exists()

    assert JobService(local_settings).wait(_submit(JobService(local_settings), cfg).id).status == JobStatus.SUCCESS
    fresh = PersistentHashMemo(local_settings.home / "cache" / CACHE_FILE)  # what a new process would open
    assert fresh.get(stat_key(data, data.stat())) == hash_of(b"remember me\n")
    assert fresh.disk_hits == 1


HF_SECRET = "hf_Zq8vL2notreallysecret"

SECRET_ENV = f"""
name: secret-env
cmd: |
  printf %s "$HF_TOKEN" | sha256sum | cut -c1-64 > token.sha
  echo "greeting $GREETING"
outputs:
  - token.sha
env:
  vars:
    - HF_TOKEN: {HF_SECRET}  # pasted by the user
    - GREETING: hello
"""


def _store_holds(service: JobService, needle: bytes) -> list[str]:
    """Keys of every object in the store whose bytes contain ``needle``."""
    return [info.key for info in service.store.list("") if needle in service.store.get_bytes(info.key)]


def test_literal_secret_env_value_reaches_the_job_but_no_record(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = write_job(tmp_path / "job", SECRET_ENV)
    service = JobService(settings)
    said: list[str] = []
    done = service.wait(_submit(service, cfg, notify=said.append).id)
    assert done.status == JobStatus.SUCCESS, done.status_details
    expected = hashlib.sha256(HF_SECRET.encode()).hexdigest()
    assert _read(service, done.outputs["token.sha"]).strip() == expected  # the container had the real value
    assert any("HF_TOKEN has a literal value that looks secret" in line for line in said)

    record = service.get(done.id)
    assert {v["name"]: v.get("value") for v in record.config["env"]["vars"]} == {"HF_TOKEN": "***", "GREETING": "hello"}
    assert "HF_TOKEN: '***'  # pasted by the user" in (record.raw_config or "")
    assert _store_holds(service, HF_SECRET.encode()) == []  # not in the record, plan, logs or anywhere else

    # A fork needs the value again: from the forker's environment, or it says which variable is missing.
    monkeypatch.delenv("HF_TOKEN", raising=False)
    with pytest.raises(JobError, match=r"does not keep the value of env var HF_TOKEN .*--env-var HF_TOKEN=VALUE"):
        service.fork(done.id)
    monkeypatch.setenv("HF_TOKEN", HF_SECRET)
    forked = service.wait(service.fork(done.id).id)
    assert forked.status == JobStatus.SUCCESS
    assert _read(service, forked.outputs["token.sha"]).strip() == expected
    other = service.wait(service.fork(done.id, Overrides(env_vars={"HF_TOKEN": "another"})).id)
    assert _read(service, other.outputs["token.sha"]).strip() == hashlib.sha256(b"another").hexdigest()
    assert _store_holds(service, HF_SECRET.encode()) == []


def test_the_stored_log_masks_secret_env_values_the_container_alone_held(
    local_settings: Settings, tmp_path: Path
) -> None:
    # ``- NAME`` values were never stored: once the container is gone nothing could find them to mask a later read
    # (``dsjobs logs``, the Jobs page). The finalizer masks them while it stores the log.
    secrets = {"HF_TOKEN": "hf-token-Zq81x", "PLAIN_NAME": "named-secret-77", "PROJECT_KEY": "project-value-42"}
    settings = dataclasses.replace(local_settings, project_secrets=lambda _s: {"PROJECT_KEY": secrets["PROJECT_KEY"]})
    cfg = write_job(
        tmp_path / "job",
        'cmd: echo "t=$HF_TOKEN n=$PLAIN_NAME p=$PROJECT_KEY r=$REGION"; echo "$HF_TOKEN" >&2\n'
        "env:\n  vars:\n    - HF_TOKEN\n    - PLAIN_NAME\n    - REGION\n",
    )
    service = JobService(settings)
    environ = {"HF_TOKEN": secrets["HF_TOKEN"], "PLAIN_NAME": secrets["PLAIN_NAME"], "REGION": "eu-central-1"}
    record = service.submit(load_config(cfg), environ=environ, secret_env_names=["PLAIN_NAME"])
    done = service.wait(record.id)
    assert done.status == JobStatus.SUCCESS
    assert service.runtime.state(record.container_id or "") is None  # the container, and its env, are gone
    stored = [line for _stream, line in JobService(settings).logs(record.id)]
    assert "t=*** n=*** p=*** r=eu-central-1" in stored and "***" in stored
    for name in ("stdout.txt", "stderr.txt", "log.txt"):
        raw = service.store.get_bytes(service.jobs.log_key(record.id, name)).decode()
        assert not [value for value in secrets.values() if value in raw], name
    assert sorted(read_plan_doc(service.jobs, record.id).secret_env) == ["HF_TOKEN", "PLAIN_NAME", "PROJECT_KEY"]
