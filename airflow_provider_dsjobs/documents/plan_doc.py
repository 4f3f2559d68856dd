"""``plan.json``: the part of a job's plan that outlives the submitting process.

Written next to the job record at submit (``jobs/plan_doc.py``: ``write_plan_doc``); read back as a typed
``PlanDoc`` by whoever finalizes, cancels or downloads the job later, possibly in another process: output
placements, output datasets, the graceful-shutdown signal and timeout, the pyenv failure marker, the Python
environment as planned (``python``: a fork builds the same one), the caller's labels and the read-write
s3-mounts to sync back (``s3_sync``: IDs and URLs) and the names of the env vars whose values the stored log
masks (``secret_env``). It never holds env values or secrets.

The JSON keys are those the first version wrote; keys a reader does not know (``graceful_signal_number`` of
that version) are ignored, so ``plan.json`` files of jobs submitted before still read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from airflow_provider_dsjobs.documents.mount_sync import SyncMount

#: The job's working directory in its container (``jobs/plan.py``'s layout).
WORK_DIR = "/job/work"


@dataclass(frozen=True)
class OutputPlacement:
    """One output: where the job writes it and where it is brought back to locally."""

    path: str
    var: str | None
    container_path: str
    local_path: Path

    @property
    def key(self) -> str:
        """The name the record's ``outputs`` uses: the var, or the path when there is none."""
        return self.var or self.path

    def to_doc(self) -> dict[str, Any]:
        """The placement as ``plan.json`` (and the output manifest) spell it."""
        return {
            "path": self.path,
            "var": self.var,
            "container_path": self.container_path,
            "local_path": str(self.local_path),
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> OutputPlacement:
        return cls(
            path=str(doc["path"]),
            var=doc.get("var") or None,
            container_path=str(doc["container_path"]),
            local_path=Path(str(doc["local_path"])),
        )


@dataclass(frozen=True)
class OutputDatasetPlacement:
    """One output dataset: the directory the job fills and what it is published as (``size_bytes``: its limit)."""

    name: str
    var: str
    container_path: str
    description: str
    labels: tuple[tuple[str, str], ...]
    size_bytes: int

    def to_doc(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "var": self.var,
            "container_path": self.container_path,
            "description": self.description,
            "labels": dict(self.labels),
            "size_bytes": self.size_bytes,
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> OutputDatasetPlacement:
        labels = doc.get("labels") or {}
        return cls(
            name=str(doc["name"]),
            var=str(doc["var"]),
            container_path=str(doc["container_path"]),
            description=str(doc.get("description") or ""),
            labels=tuple((str(k), str(v)) for k, v in dict(labels).items()),
            size_bytes=int(doc.get("size_bytes") or 0),
        )


@dataclass(frozen=True)
class PythonSetup:
    """The job's Python environment (from ``pyenv.plan``, or the ML Lab runner's): built by a build step into the
    project's volume (mounted read-write there only, ``jobs/env_build.py``) unless ``ready_path`` exists, then
    mounted read-only into the job, whose script checks and activates it. Stored in ``plan.json``, so a fork
    builds the same environment without reading the submitter's files again (``jobs/plan.py``:
    ``python_setup`` makes one from a ``pyenv`` plan, ``python_files`` the files its build step needs)."""

    volume_name: str
    volume_mount: str
    volume_labels: Mapping[str, str]
    failed_marker: str
    failed_exit_code: int
    #: How ``env.python`` builds it (what a fork reuses); empty for an ML Lab job, whose runner builds its own.
    image: str = ""
    setup_command: str = ""
    builder_path: str = ""
    spec_path: str = ""
    spec_json: bytes = field(default=b"", repr=False)
    notes: tuple[str, ...] = ()
    #: the build step's script (empty: nothing to build); it runs in ``build_workdir``
    build_command: str = ""
    build_workdir: str = WORK_DIR
    #: written last by the build: its presence means the environment is complete
    ready_path: str = ""
    #: where the build step's output is put in the job's container (the job shows it)
    build_log: str = ""
    #: whether the build step needs the job's inputs (ML Lab: the code, for ``./wheels`` lines)
    build_with_inputs: bool = False

    def to_doc(self) -> dict[str, Any]:
        doc = {f.name: getattr(self, f.name) for f in fields(self)}
        doc.update(volume_labels=dict(self.volume_labels), notes=list(self.notes))
        doc["spec_json"] = self.spec_json.decode("utf-8")
        return doc

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> PythonSetup:
        kwargs = {f.name: doc[f.name] for f in fields(cls) if f.name in doc}
        kwargs.update(
            volume_labels={str(k): str(v) for k, v in dict(kwargs["volume_labels"]).items()},
            notes=tuple(str(n) for n in kwargs.get("notes", ())),
            spec_json=str(kwargs["spec_json"]).encode("utf-8"),
        )
        return cls(**kwargs)


def _python_from_doc(doc: Any) -> PythonSetup | None:
    """The stored Python environment; None when absent (a job without one, or stored before it was kept) or
    unreadable (a fork then plans it again)."""
    if not isinstance(doc, Mapping):
        return None
    try:
        return PythonSetup.from_doc(doc)
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
    #: Names (never values) of the env vars whose values the stored log masks (``jobs/log_masking.py``).
    secret_env: tuple[str, ...] = ()

    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "job_id": self.job_id,
            "image": self.image,
            "outputs": [o.to_doc() for o in self.outputs],
            "output_datasets": [d.to_doc() for d in self.output_datasets],
            "graceful_signal": self.graceful_signal,
            "graceful_timeout": self.graceful_timeout,
            "python_failed_marker": self.python_failed_marker,
            "python_failed_exit_code": self.python_failed_exit_code,
            "labels": dict(self.labels or {}),
            "python": self.python.to_doc() if self.python else None,
            "s3_sync": [m.to_doc() for m in self.s3_sync],
        }
        if self.secret_env:  # absent otherwise: plans written before the field read back byte for byte
            doc["secret_env"] = list(self.secret_env)
        return doc

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> PlanDoc:
        """Read ``plan.json``'s object; ``ValueError`` when it is not one."""
        try:
            timeout = doc.get("graceful_timeout")
            exit_code = doc.get("python_failed_exit_code")
            return cls(
                job_id=str(doc["job_id"]),
                image=doc.get("image"),
                outputs=tuple(OutputPlacement.from_doc(o) for o in doc.get("outputs") or ()),
                output_datasets=tuple(OutputDatasetPlacement.from_doc(d) for d in doc.get("output_datasets") or ()),
                graceful_signal=doc.get("graceful_signal") or None,
                graceful_timeout=float(timeout) if timeout is not None else None,
                python_failed_marker=doc.get("python_failed_marker") or None,
                python_failed_exit_code=int(exit_code) if exit_code is not None else None,
                labels={str(k): str(v) for k, v in dict(doc.get("labels") or {}).items()},
                python=_python_from_doc(doc.get("python")),
                s3_sync=tuple(SyncMount.from_doc(m) for m in doc.get("s3_sync") or ()),
                secret_env=tuple(str(n) for n in doc.get("secret_env") or ()),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"missing or malformed {exc}") from None
