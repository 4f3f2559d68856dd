"""``plan.json``: the part of a job's plan that outlives the submitting process.

Written next to the job record at submit (``PlanDoc.from_plan(plan).to_json()``); read back as a typed
``PlanDoc`` by whoever finalizes, cancels or downloads the job later, possibly in another process: output
placements, output datasets, the graceful-shutdown signal and timeout, the pyenv failure marker, the Python
environment as planned (``python``: a fork builds the same one), the caller's labels and the read-write
s3-mounts to sync back (``s3_sync``: IDs and URLs). It never holds env
values or secrets.

The JSON keys are those the first version wrote; keys a reader does not know (``graceful_signal_number`` of
that version) are ignored, so ``plan.json`` files of jobs submitted before still read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airflow_provider_dsjobs.jobs.plan import (
    LABEL_JOB_ID,
    LABEL_PROJECT,
    JobPlan,
    OutputDatasetPlacement,
    OutputPlacement,
    PythonSetup,
)
from airflow_provider_dsjobs.jobs.s3_sync import SyncMount
from airflow_provider_dsjobs.jobs.store import JobStore
from airflow_provider_dsjobs.storage.base import ObjectNotFound, StoreError


def output_to_json(out: OutputPlacement) -> dict[str, Any]:
    """One output placement as ``plan.json`` (and the output manifest) spell it."""
    return {"path": out.path, "var": out.var, "container_path": out.container_path, "local_path": str(out.local_path)}


def output_from_json(data: Mapping[str, Any]) -> OutputPlacement:
    return OutputPlacement(
        path=str(data["path"]),
        var=data.get("var") or None,
        container_path=str(data["container_path"]),
        local_path=Path(str(data["local_path"])),
    )


def _dataset_to_json(ds: OutputDatasetPlacement) -> dict[str, Any]:
    return {
        "name": ds.name,
        "var": ds.var,
        "container_path": ds.container_path,
        "description": ds.description,
        "labels": dict(ds.labels),
        "size_bytes": ds.size_bytes,
    }


def _dataset_from_json(data: Mapping[str, Any]) -> OutputDatasetPlacement:
    labels = data.get("labels") or {}
    return OutputDatasetPlacement(
        name=str(data["name"]),
        var=str(data["var"]),
        container_path=str(data["container_path"]),
        description=str(data.get("description") or ""),
        labels=tuple((str(k), str(v)) for k, v in dict(labels).items()),
        size_bytes=int(data.get("size_bytes") or 0),
    )


def _python_from_json(data: Any) -> PythonSetup | None:
    """The stored Python environment; None when absent (a job without one, or stored before it was kept) or
    unreadable (a fork then plans it again)."""
    if not isinstance(data, Mapping):
        return None
    try:
        return PythonSetup.from_doc(data)
    except (KeyError, TypeError, ValueError):
        return None


@dataclass(frozen=True)
class PlanDoc:
    """What a finalizer, canceller or downloader in another process needs from a job's plan."""

    job_id: str
    image: str | None = None
    outputs: tuple[OutputPlacement, ...] = ()
    output_datasets: tuple[OutputDatasetPlacement, ...] = ()
    graceful_signal: str | None = None
    graceful_timeout: float | None = None
    python_failed_marker: str | None = None
    python_failed_exit_code: int | None = None
    labels: Mapping[str, str] | None = None
    python: PythonSetup | None = None
    #: The read-write s3-mounts a finalizer syncs back (no credentials).
    s3_sync: tuple[SyncMount, ...] = ()

    @classmethod
    def from_plan(cls, plan: JobPlan) -> PlanDoc:
        return cls(
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
        )

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "job_id": self.job_id,
                "image": self.image,
                "outputs": [output_to_json(o) for o in self.outputs],
                "output_datasets": [_dataset_to_json(d) for d in self.output_datasets],
                "graceful_signal": self.graceful_signal,
                "graceful_timeout": self.graceful_timeout,
                "python_failed_marker": self.python_failed_marker,
                "python_failed_exit_code": self.python_failed_exit_code,
                "labels": dict(self.labels or {}),
                "python": self.python.to_doc() if self.python else None,
                "s3_sync": [m.to_dict() for m in self.s3_sync],
            },
            indent=1,
        ).encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> PlanDoc:
        """Parse ``plan.json``; ``ValueError`` when it is not one."""
        try:
            raw = json.loads(data)
            if not isinstance(raw, dict):
                raise ValueError("not a JSON object")
            timeout = raw.get("graceful_timeout")
            exit_code = raw.get("python_failed_exit_code")
            return cls(
                job_id=str(raw["job_id"]),
                image=raw.get("image"),
                outputs=tuple(output_from_json(o) for o in raw.get("outputs") or ()),
                output_datasets=tuple(_dataset_from_json(d) for d in raw.get("output_datasets") or ()),
                graceful_signal=raw.get("graceful_signal") or None,
                graceful_timeout=float(timeout) if timeout is not None else None,
                python_failed_marker=raw.get("python_failed_marker") or None,
                python_failed_exit_code=int(exit_code) if exit_code is not None else None,
                labels={str(k): str(v) for k, v in dict(raw.get("labels") or {}).items()},
                python=_python_from_json(raw.get("python")),
                s3_sync=tuple(SyncMount.from_dict(m) for m in raw.get("s3_sync") or ()),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"missing or malformed {exc}") from None


def write_plan_doc(jobs: JobStore, plan: JobPlan) -> None:
    jobs.store.put_bytes(jobs.plan_key(plan.job_id), PlanDoc.from_plan(plan).to_json())


def read_plan_doc(jobs: JobStore, job_id: str) -> PlanDoc:
    """The job's ``plan.json``; one without outputs or signal when the job has none (it never got that far).
    A corrupt one raises ``StoreError``."""
    key = jobs.plan_key(job_id)
    try:
        data = jobs.store.get_bytes(key)
    except ObjectNotFound:
        return PlanDoc(job_id=job_id)
    try:
        return PlanDoc.from_json(data)
    except ValueError as exc:
        raise StoreError(f"job plan {jobs.store.uri(key)} is corrupt: {exc}") from None
