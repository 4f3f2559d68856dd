"""What each racing process runs in ``test_records.py``: opens the store the test names, waits at a barrier, then
changes one job through ``JobStore.update`` (a module of its own so ``multiprocessing``'s spawned children can
import it)."""

from __future__ import annotations

from typing import Any

from airflow_provider_dsjobs.documents.record import JobRecord, JobStatus
from airflow_provider_dsjobs.jobs.store import JobStore
from airflow_provider_dsjobs.storage.local import LocalStore
from airflow_provider_dsjobs.storage.s3 import S3Store


def open_jobs(where: dict[str, str]) -> JobStore:
    if where["kind"] == "local":
        store: Any = LocalStore(where["root"])
    else:
        store = S3Store(where["bucket"], "tests", endpoint_url=where["endpoint"], region="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
    return JobStore(store, "proj")


def end_job(where: dict[str, str], job_id: str, how: str, results: Any, barrier: Any) -> None:
    """End the job as a finalizer (SUCCESS with outputs) or a canceller (CANCELLED with its reason)."""
    jobs = open_jobs(where)

    def change(record: JobRecord) -> JobRecord | None:
        if record.status.terminal:
            return None  # lost the race: the job is over
        if how == "finalize":
            record.outputs = {"RESULT": f"s3://b/{job_id}/result.txt"}
            record.logs, record.return_code = f"s3://b/{job_id}/log.txt", 0
            record.set_status(JobStatus.SUCCESS, None, by="finalize")
        else:
            record.set_status(JobStatus.CANCELLED, "cancelled by the racing test", by="cancel")
        return record

    barrier.wait()
    results.put((how, jobs.update(job_id, change).status.value))


def add_labels(where: dict[str, str], job_id: str, who: str, count: int, barrier: Any) -> None:
    """Add ``count`` labels of its own, one update each: none may be lost to the other writer."""
    jobs = open_jobs(where)
    barrier.wait()
    for i in range(count):

        def change(record: JobRecord, i: int = i) -> JobRecord:
            record.labels[f"{who}-{i}"] = "x"
            return record

        jobs.update(job_id, change)


def create_jobs(where: dict[str, str], who: str, count: int, barrier: Any) -> None:
    """Create ``count`` jobs named ``<who>-<i>``: each one goes into the index's list of the newest."""
    jobs = open_jobs(where)
    barrier.wait()
    for i in range(count):
        jobs.create(JobRecord(id=jobs.new_job_id(), project="proj", name=f"{who}-{i}"))
