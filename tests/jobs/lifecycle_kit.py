"""What the fake-runtime lifecycle tests share (``test_lifecycle_*.py``): a ``JobService`` on a temporary local store
and a ``FakeRuntime``, a second service on the same store and engine playing another process, a small config, and
helpers that read what a user would check (the stored record, its history, the containers left)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

from airflow_provider_dsjobs.config import config_from_mapping
from airflow_provider_dsjobs.config.model import JobConfig
from airflow_provider_dsjobs.documents.record import TRANSITIONS, JobRecord, JobStatus
from airflow_provider_dsjobs.jobs.service import JobService
from airflow_provider_dsjobs.jobs.stage_out import StageOutRequest, stage_out
from airflow_provider_dsjobs.runtime.labels import LABEL_JOB_ID
from airflow_provider_dsjobs.settings import Settings
from tests.jobs.fake_runtime import FakeRuntime

OUT = "/job/work/out.txt"


@dataclass
class Kit:
    settings: Settings
    runtime: FakeRuntime
    service: JobService
    #: Another process: its own service (and store handle) on the same store and engine.
    other: JobService
    config: JobConfig
    tmp_path: Path

    def stored(self, job_id: str) -> JobRecord:
        return self.service.jobs.load(job_id)

    def job_of(self, container_id: str) -> str:
        return self.runtime.containers[container_id].spec.labels[LABEL_JOB_ID]

    def running(self) -> JobRecord:
        """A job submitted and running (EXECUTING)."""
        record = self.service.submit(self.config)
        assert record.status == JobStatus.EXECUTING
        return record

    def exited(self, exit_code: int = 0) -> JobRecord:
        """A job whose program exited (``exit_code``) having written its output, not finalized yet."""
        record = self.running()
        self.runtime.finish(record.container_id or "", exit_code, {OUT: b"result\n"})
        return record

    def commit_elsewhere(self, record: JobRecord, exit_code: int, cancelled: bool = False) -> None:
        """Another finalizer stages the job out and commits its manifest, then dies before saving the record."""
        request = StageOutRequest(
            job_id=record.id,
            project=record.project,
            container_id=record.container_id or "",
            input_bytes=0,
            exit_code=exit_code,
            cancelled=cancelled,
        )
        jobs = self.other.jobs
        stage_out(jobs, self.runtime, request, self.other.context.plan_doc(record.id))


def make_kit(tmp_path: Path, runtime: FakeRuntime | None = None) -> Kit:
    settings = Settings(
        store_url=(tmp_path / "store").as_uri(), project="p", default_image="img:1", home=tmp_path / "home"
    )
    runtime = runtime or FakeRuntime()
    (tmp_path / "in.txt").write_text("input\n")
    data = {"cmd": "cat in.txt > out.txt", "inputs": ["in.txt"], "outputs": ["out.txt"]}
    config = config_from_mapping(data, base_dir=tmp_path)
    return Kit(
        settings,
        runtime,
        JobService(settings, runtime=runtime),
        JobService(settings, runtime=runtime),
        config,
        tmp_path,
    )


def statuses(record: JobRecord) -> list[JobStatus]:
    return [h.status for h in record.history]


def steps(record: JobRecord) -> list[tuple[JobStatus, JobStatus]]:
    """The status changes of the record's history, in order."""
    seen = statuses(record)
    return list(itertools.pairwise(seen))


def assert_follows_the_table(record: JobRecord) -> None:
    """Every change in the history is one the transition table allows, and the job ended at most once."""
    for before, after in steps(record):
        assert after in TRANSITIONS[before], f"{before} -> {after} is not in the table: {statuses(record)}"
    assert sum(1 for s in statuses(record) if s.terminal) <= 1, statuses(record)
