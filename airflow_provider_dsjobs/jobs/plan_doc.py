"""Writing and reading a job's ``plan.json`` (the document itself: ``documents/plan_doc.py``)."""

from __future__ import annotations

from airflow_provider_dsjobs.documents.codec import decode, encode
from airflow_provider_dsjobs.documents.mount_sync import SyncMount
from airflow_provider_dsjobs.documents.plan_doc import PlanDoc
from airflow_provider_dsjobs.jobs.plan import JobPlan
from airflow_provider_dsjobs.jobs.store import JobStore
from airflow_provider_dsjobs.runtime.labels import LABEL_JOB_ID, LABEL_PROJECT
from airflow_provider_dsjobs.storage.base import ObjectNotFound, StoreError


def plan_doc_of(plan: JobPlan) -> PlanDoc:
    """What of ``plan`` outlives the submitting process."""
    return PlanDoc(
        job_id=plan.job_id,
        image=plan.image,
        outputs=plan.outputs,
        output_datasets=plan.output_datasets,
        graceful_signal=plan.graceful_signal,
        graceful_timeout=plan.graceful_timeout,
        python_failed_marker=plan.python.failed_marker if plan.python else None,
        python_failed_exit_code=plan.python.failed_exit_code if plan.python else None,
        labels={k: v for k, v in plan.labels.items() if k not in (LABEL_JOB_ID, LABEL_PROJECT)},
        python=plan.python if plan.python is not None and plan.python.spec_path else None,
        s3_sync=tuple(
            SyncMount(m.id, m.url, m.container_path, m.source.from_connector)
            for m in plan.s3_mounts
            if m.source.read_write
        ),
        secret_env=tuple(sorted(plan.secret_env_names)),
    )


def write_plan_doc(jobs: JobStore, plan: JobPlan) -> None:
    jobs.store.put_bytes(jobs.plan_key(plan.job_id), encode(plan_doc_of(plan).to_doc()))


def read_plan_doc(jobs: JobStore, job_id: str) -> PlanDoc:
    """The job's ``plan.json``; one without outputs or signal when the job has none (it never got that far).
    A corrupt one raises ``StoreError``."""
    key = jobs.plan_key(job_id)
    try:
        data = jobs.store.get_bytes(key)
    except ObjectNotFound:
        return PlanDoc(job_id=job_id)
    try:
        return PlanDoc.from_doc(decode(data))
    except ValueError as exc:
        raise StoreError(f"job plan {jobs.store.uri(key)} is corrupt: {exc}") from None
