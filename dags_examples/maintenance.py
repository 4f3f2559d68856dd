"""Maintenance: every day, finish the jobs nobody followed whose container has exited (an ``execute --async`` job
nobody attached to: a page read never finalizes one), then delete expired job data and the cached inputs no job
needs any more, then the engine cache volumes (Python environments, datasets, S3 mounts, ML Lab ``/data``, project
disks) no job used for ``cache_max_age_days`` (connection extra, default 30) or over ``cache_budget``.

``dsjobs gc`` as a DAG, for deployments where nobody runs it by hand. Submitting jobs already deletes expired
data now and then (``DSJOBS_AUTO_GC_INTERVAL``), time-bounded; this run has no time limit and also covers a
project that gets no new jobs. The task's return value says what went.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, task

from airflow_provider_dsjobs.hooks import DataSphereJobsHook

with DAG(
    dag_id="dsjobs_maintenance",
    schedule="@daily",
    start_date=datetime(2025, 1, 1),
    catchup=False,
    default_args={"retries": 1, "retry_delay": timedelta(minutes=10)},
    tags=["dsjobs", "example", "maintenance"],
):

    @task
    def collect_garbage(dsjobs_conn_id: str = "dsjobs_default") -> dict[str, object]:
        report = DataSphereJobsHook(dsjobs_conn_id).get_conn().gc()
        print(
            f"finished {len(report.jobs_settled)} job(s) nobody followed; cleared {len(report.jobs_cleared)} job(s), "
            f"deleted {report.blobs_deleted} cached input(s); removed {len(report.caches_removed)} engine cache "
            f"volume(s) ({report.cache_bytes_freed} bytes)"
        )
        for name, why in report.caches_kept.items():
            print(f"kept engine cache {name}: {why}")
        if report.caches_skipped:
            print(f"engine caches not collected: {report.caches_skipped}")
        return {
            "jobs_settled": report.jobs_settled,
            "jobs_cleared": report.jobs_cleared,
            "blobs_deleted": report.blobs_deleted,
            "bytes_freed": report.bytes_freed,
            "caches_removed": report.caches_removed,
            "cache_bytes_freed": report.cache_bytes_freed,
            "caches_kept": report.caches_kept,
        }

    collect_garbage()
