"""A job's data lifecycle: the TTL is enforced (expired data cannot be read even before it is deleted, and a
submit deletes it without anyone running ``gc``), and ``clear`` deletes it at once (real engine, both stores)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest

from airflow_provider_dsjobs.cli.main import main
from airflow_provider_dsjobs.config import load_config
from airflow_provider_dsjobs.documents.record import JobStatus, utcnow
from airflow_provider_dsjobs.jobs.service import JobError, JobService
from airflow_provider_dsjobs.settings import Settings
from tests.jobs.service_helpers import write_job

pytestmark = [pytest.mark.docker]

JOB = "cmd: echo hello > out.txt\noutputs: [out.txt]\n"


def test_expired_data_is_refused_then_deleted_by_a_later_submit(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    service = JobService(dataclasses.replace(settings, auto_gc_interval=0))  # no gc while setting up
    old = service.wait(service.submit(load_config(write_job(tmp_path / "job", JOB))).id)
    assert old.status == JobStatus.SUCCESS
    record = service.jobs.load(old.id)
    record.data_expires_at = utcnow() - timedelta(minutes=5)
    service.jobs.save(record)

    # Past its TTL: not downloadable, forkable or readable, though nothing is deleted yet.
    for call in (
        lambda: service.download_files(old.id, output_dir=tmp_path / "dl"),
        lambda: service.fork(old.id),
        lambda: list(service.logs(old.id)),
    ):
        with pytest.raises(JobError, match=rf"job {old.id} data expired on 20\d\d-\d\d-\d\d \d\d:\d\d UTC"):
            call()
    assert service.store.exists(service.jobs.outputs_prefix(old.id) + "manifest.json")
    assert not (tmp_path / "dl").exists()

    cli = ["--store", settings.effective_store_url, "--project", settings.project]
    assert main(["gc", "--dry-run", *cli]) == 0
    out, err = capsys.readouterr()
    assert "would clear 1 job(s)" in err and out.split() == [old.id]
    assert not service.jobs.load(old.id).data_cleared

    # The next submit deletes it, with no gc run by anyone.
    said: list[str] = []
    submitter = JobService(dataclasses.replace(settings, auto_gc_interval=3600))
    new = submitter.submit(load_config(write_job(tmp_path / "job2", JOB)), notify=said.append)
    assert "deleted expired data: 1 job(s), 0 cached input(s)" in said
    cleared = submitter.jobs.load(old.id)
    assert cleared.data_cleared and list(submitter.store.list(submitter.jobs.outputs_prefix(old.id))) == []
    with pytest.raises(JobError, match=r"data was cleared on .* \(its data TTL expired\)"):
        submitter.download_files(old.id)
    assert submitter.wait(new.id).status == JobStatus.SUCCESS
    # Within the interval the next submit does not look again.
    said.clear()
    submitter.wait(submitter.submit(load_config(write_job(tmp_path / "job2", JOB)), notify=said.append).id)
    assert not [line for line in said if "expired" in line]


def test_clear_deletes_a_jobs_data_now_and_later_reads_say_so(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    service = JobService(settings)
    cfg = write_job(tmp_path / "job", "cmd: cat in.txt > out.txt; sleep ${T}\nargs: {T: '0'}\ninputs: [in.txt]\n"
                    "outputs: [out.txt]\n", {"in.txt": "x"})  # fmt: skip
    running = service.submit(load_config(cfg).with_changes(args=(("T", "60"),)))
    with pytest.raises(JobError, match=r"still running .*cancel it"):
        service.clear(running.id)
    service.cancel(running.id, graceful=False)
    done = service.wait(service.submit(load_config(cfg)).id)
    assert done.status == JobStatus.SUCCESS and service.store.exists(service.jobs.logs_prefix(done.id) + "log.txt")

    cli = ["--store", settings.effective_store_url, "--project", settings.project]
    assert main(["clear", "--id", done.id, *cli]) == 0
    out, err = capsys.readouterr()
    assert out.split() == [done.id] and f"cleared job {done.id} data: 1 job(s)" in err
    record = service.get(done.id)
    assert record.data_cleared and record.data_cleared_reason == "cleared" and record.status == JobStatus.SUCCESS
    left = [info.key for info in service.store.list(service.jobs.job_prefix(done.id))]
    assert left and not [key for key in left if "/outputs/" in key or "/logs/" in key]  # the record stays
    for call in (
        lambda: service.download_files(done.id),
        lambda: service.fork(done.id),
        lambda: list(service.logs(done.id)),
    ):
        with pytest.raises(JobError, match=rf"job {done.id} data was cleared on .* \(dsjobs clear\)"):
            call()
    assert main(["logs", "--id", done.id, *cli]) == 1
    assert "data was cleared" in capsys.readouterr().err
    assert service.clear(done.id).jobs_cleared == []  # already cleared: nothing more to do

    assert main(["clear", "--all", *cli]) == 0  # nothing expired: the cancelled job keeps its data
    assert "0 job(s)" in capsys.readouterr().err and not service.get(running.id).data_cleared
    with pytest.raises(SystemExit) as usage:
        main(["clear", *cli])  # --id or --all
    assert usage.value.code == 2
