"""The official DataSphere Python SDK's surface over this provider's core, so notebooks that drive jobs from
Python port by changing one import::

    from airflow_provider_dsjobs.sdk import SDK      # was: from datasphere import SDK

    sdk = SDK()
    job = sdk.fork_job("j20261121-...", args={"EPOCHS": "5"}, name="retrain")
    job.wait()                                       # the job's output goes to this process's stdout/stderr
    if job.status == "SUCCESS":
        job.download_job_files(output_dir="results")

Settings come from the ``DSJOBS_*`` environment like the CLI's (``project``, ``store`` and ``docker_url``
override them). The official constructor's Yandex Cloud arguments (``oauth_token``, ``profile``, ``log_level``,
``log_config``, ``log_dir``) are accepted and mean nothing here. Airflow-free: it uses only the core.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from airflow_provider_dsjobs.config.overrides import Overrides
from airflow_provider_dsjobs.documents.record import JobRecord
from airflow_provider_dsjobs.jobs.service import JobService
from airflow_provider_dsjobs.settings import Settings

__all__ = ["SDK", "JobWrapper"]


class SDK:
    """Jobs of one project, as the official ``datasphere.SDK`` reaches them: ``fork_job`` and ``get_job``."""

    def __init__(
        self,
        oauth_token: str | None = None,
        profile: str | None = None,
        log_level: str | None = None,
        log_config: str | None = None,
        log_dir: str | None = None,
        *,
        project: str | None = None,
        store: str | None = None,
        docker_url: str | None = None,
    ) -> None:
        del oauth_token, profile, log_level, log_config, log_dir  # Yandex Cloud's: nothing to authenticate here
        given: dict[str, Any] = {"project": project, "store_url": store, "docker_url": docker_url}
        settings = dataclasses.replace(Settings.from_env(), **{k: v for k, v in given.items() if v})
        self.service = JobService(settings)

    def get_job(self, id: str) -> JobWrapper:
        """The job ``id`` as it is now (a job whose container exited is settled, as ``dsjobs get`` does)."""
        return JobWrapper(self, self.service.get(id))

    def fork_job(
        self,
        source_job_id: str,
        args: Mapping[str, str] | None = None,
        vars: Mapping[str, str] | None = None,
        env_vars: Mapping[str, str] | None = None,
        name: str | None = None,
        desc: str | None = None,
        docker: str | Mapping[str, Any] | None = None,
        working_storage: str | Mapping[str, str] | None = None,
        cloud_instance_types: Sequence[str] | None = None,
    ) -> JobWrapper:
        """Start a re-run of ``source_job_id`` with overrides (``dsjobs fork``) and return at once; ``wait()`` on
        the result follows it. ``docker`` is an image reference or project image ID, or a mapping ``{url, username,
        password}`` whose ``password`` is a secret's ID; ``working_storage`` is ``{size, type}`` or a size."""
        image, username, password = _docker(docker)
        overrides = Overrides(
            args=args or None,
            vars=vars or None,
            env_vars=env_vars or None,
            name=name,
            desc=desc,
            cloud_instance_types=tuple(cloud_instance_types) if cloud_instance_types else None,
            image=image,
            registry_username=username,
            registry_password_secret_id=password,
            working_storage={"size": working_storage} if isinstance(working_storage, str) else working_storage,
        )
        return JobWrapper(self, self.service.fork(source_job_id, overrides))


def _docker(docker: str | Mapping[str, Any] | None) -> tuple[str | None, str | None, str | None]:
    if docker is None or isinstance(docker, str):
        return docker, None, None
    password = docker.get("password")
    if isinstance(password, Mapping):  # {secret-id: NAME}, as a config writes it
        password = password.get("secret-id") or password.get("secret_id")
    return docker.get("url") or docker.get("image"), docker.get("username"), password


class JobWrapper:
    """One job: ``id``, ``status``, ``done`` (SUCCESS, ERROR or CANCELLED), ``wait()``, ``download_job_files()``."""

    def __init__(self, sdk: SDK, record: JobRecord) -> None:
        self._sdk = sdk
        self.job = record

    def __repr__(self) -> str:
        return f"JobWrapper(id={self.id!r}, status={self.status!r})"

    @property
    def id(self) -> str:
        return self.job.id

    @property
    def status(self) -> str:
        """The status as last read: ``CREATING``, ``EXECUTING``, ..., ``SUCCESS``, ``ERROR``, ``CANCELLED``."""
        return self.job.status.value

    @property
    def done(self) -> bool:
        """Whether the job has ended, read again from the store and the engine."""
        if not self.job.status.terminal:
            self.job = self._sdk.service.get(self.id)
        return self.job.status.terminal

    def wait(self, *, show_output: bool = True) -> JobWrapper:
        """Block until the job ends, its output going to this process's stdout/stderr (``show_output``)."""
        self.job = self._sdk.service.wait(self.id, log=_print_line if show_output else None)
        return self

    def cancel(self, graceful: bool = False) -> JobWrapper:
        self.job = self._sdk.service.cancel(self.id, graceful=graceful)
        return self

    def download_job_files(
        self, with_logs: bool = False, with_diagnostics: bool = False, output_dir: str | Path | None = None
    ) -> list[Path]:
        """Bring the outputs (and logs; diagnostics are the resource samples stored with them) to their paths from
        the config, or flattened into ``output_dir``."""
        return self._sdk.service.download_files(
            self.id,
            output_dir=Path(output_dir) if output_dir is not None else None,
            with_logs=with_logs or with_diagnostics,
        )


def _print_line(stream: str, line: str) -> None:
    if stream == "system":
        return
    out = sys.stderr if stream == "stderr" else sys.stdout
    out.write(line if line.endswith("\n") else line + "\n")
