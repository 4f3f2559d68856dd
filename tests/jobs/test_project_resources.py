"""Project resources reaching a real job: every project secret as an env var of its own name (never stored),
and ``env.docker: <image ID>`` resolving through the project's image registry."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from airflow_provider_dsjobs.config.loader import load_config
from airflow_provider_dsjobs.jobs.errors import JobError
from airflow_provider_dsjobs.jobs.record import JobStatus
from airflow_provider_dsjobs.jobs.service import JobService
from airflow_provider_dsjobs.resources.images import ImageRegistry
from airflow_provider_dsjobs.resources.secrets import FileSecretStore
from airflow_provider_dsjobs.settings import Settings
from tests.jobs.service_helpers import write_job

pytestmark = [pytest.mark.docker]

SECRET = "pr0ject-s3cret-value"

SECRETS_JOB = """
name: uses-secrets
cmd: |
  python3 -c "import os, hashlib; print(hashlib.sha256(os.environ['MY-SECRET'].encode()).hexdigest())" > sha.txt
  python3 -c "import os; print('region=' + os.environ['REGION'], 'db=%d' % len(os.environ['DB_PASSWORD']))"
outputs:
  - sha.txt
env:
  vars:
    - REGION: europe
"""


def _read(service: JobService, uri: str) -> str:
    key = uri[len(service.store.url.rstrip("/")) + 1 :]
    with service.store.open_read(key) as fh:
        return fh.read().decode()


def test_every_project_secret_reaches_the_job_and_nothing_stores_it(settings: Settings, tmp_path: Path) -> None:
    secrets = FileSecretStore(settings.home, settings.project)
    secrets.set("MY-SECRET", SECRET)
    secrets.set("DB_PASSWORD", "db-" + SECRET)
    service = JobService(settings)
    lines: list[str] = []
    record = service.submit(load_config(write_job(tmp_path / "job", SECRETS_JOB)))
    done = service.wait(record.id, log=lambda _s, line: lines.append(line))
    assert done.status == JobStatus.SUCCESS, done.status_details
    assert _read(service, done.outputs["sha.txt"]).strip() == hashlib.sha256(SECRET.encode()).hexdigest()
    assert f"region=europe db={len('db-' + SECRET)}" in lines
    stored = [info.key for info in service.store.list("") if SECRET.encode() in service.store.get_bytes(info.key)]
    assert stored == []  # not in the record, plan.json, logs or outputs


def test_a_config_env_var_wins_over_a_project_secret_of_the_same_name(local_settings: Settings, tmp_path: Path) -> None:
    FileSecretStore(local_settings.home, local_settings.project).set("REGION", "from-secret")
    FileSecretStore(local_settings.home, local_settings.project).set("MY-SECRET", SECRET)
    FileSecretStore(local_settings.home, local_settings.project).set("DB_PASSWORD", "x")
    service = JobService(local_settings)
    lines: list[str] = []
    done = service.wait(
        service.submit(load_config(write_job(tmp_path / "job", SECRETS_JOB))).id,
        log=lambda _s, line: lines.append(line),
    )
    assert done.status == JobStatus.SUCCESS, done.status_details
    assert any(line.startswith("region=europe ") for line in lines)


def test_env_docker_image_id_runs_the_registered_image(settings: Settings, tmp_path: Path, test_image: str) -> None:
    ImageRegistry(JobService(settings).store, settings.project).add("b1gtrainerimage00001", test_image)
    cfg = write_job(tmp_path / "job", "cmd: python3 -c 'print(\"hello\")'\nenv:\n  docker: b1gtrainerimage00001\n")
    service = JobService(settings)
    done = service.wait(service.submit(load_config(cfg)).id)
    assert done.status == JobStatus.SUCCESS, done.status_details
    assert done.image == test_image


def test_an_unknown_image_id_is_one_clear_error_and_no_job(local_settings: Settings, tmp_path: Path) -> None:
    cfg = write_job(tmp_path / "job", "cmd: echo hi\nenv:\n  docker: b1gmissingimage00001\n")
    service = JobService(local_settings)
    with pytest.raises(JobError, match=r"env.docker: unknown project image 'b1gmissingimage00001'.*docker-image add"):
        service.submit(load_config(cfg))
    assert service.list_jobs() == []
