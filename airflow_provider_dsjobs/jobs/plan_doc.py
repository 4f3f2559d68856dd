"""``plan.json``: the part of a job's plan that outlives the submitting process.

Written next to the job record at submit; read by whoever finalizes, cancels or downloads the job later,
possibly in another process: output placements, output datasets, the graceful-shutdown signal and timeout,
the pyenv failure marker, the Python environment as planned (a fork builds the same one) and the caller's
labels. It never holds env values or secrets.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from airflow_provider_dsjobs.jobs.plan import LABEL_JOB_ID, LABEL_PROJECT, SIGNAL_NUMBERS, JobPlan
from airflow_provider_dsjobs.storage.base import ObjectStore, StoreError
from airflow_provider_dsjobs.storage.keys import join_key

if TYPE_CHECKING:
    from airflow_provider_dsjobs.jobs.store import JobStore

PLAN_DOC = "plan.json"


def plan_key(jobs: JobStore, job_id: str) -> str:
    return join_key(jobs.job_prefix(job_id), PLAN_DOC)


def plan_to_doc(plan: JobPlan) -> dict[str, Any]:
    """What a finalizer in another process needs from the plan; no env values, no secrets."""
    return {
        "job_id": plan.job_id,
        "image": plan.image,
        "outputs": [
            {"path": o.path, "var": o.var, "container_path": o.container_path, "local_path": str(o.local_path)}
            for o in plan.outputs
        ],
        "output_datasets": [
            {
                "name": d.name,
                "var": d.var,
                "container_path": d.container_path,
                "description": d.description,
                "labels": dict(d.labels),
                "size_bytes": d.size_bytes,
            }
            for d in plan.output_datasets
        ],
        "graceful_signal": plan.graceful_signal,
        "graceful_signal_number": SIGNAL_NUMBERS.get(plan.graceful_signal or "", None),
        "graceful_timeout": plan.graceful_timeout,
        "python_failed_marker": plan.python.failed_marker if plan.python else None,
        "python_failed_exit_code": plan.python.failed_exit_code if plan.python else None,
        "python": plan.python.to_doc() if plan.python else None,
        "labels": {k: v for k, v in plan.labels.items() if k not in (LABEL_JOB_ID, LABEL_PROJECT)},
    }


def write_plan_doc(store: ObjectStore, jobs: JobStore, plan: JobPlan) -> None:
    store.put_bytes(plan_key(jobs, plan.job_id), json.dumps(plan_to_doc(plan), indent=1).encode())


def read_plan_doc(store: ObjectStore, jobs: JobStore, job_id: str) -> dict[str, Any]:
    """The job's ``plan.json``, or ``{}`` when it cannot be read."""
    try:
        return dict(json.loads(store.get_bytes(plan_key(jobs, job_id))))
    except StoreError:
        return {}
