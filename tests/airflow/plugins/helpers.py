"""A client of the api-server the plugin tests run (``conftest.api_server`` starts it): tokens for its two users
and requests that do not follow redirects; the jobs the tests run on the store it reads."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from airflow_provider_dsjobs.config import load_config
from airflow_provider_dsjobs.config.overrides import Overrides, apply_overrides
from airflow_provider_dsjobs.documents.mount_sync import MountSync
from airflow_provider_dsjobs.documents.record import JobRecord, JobStatus
from airflow_provider_dsjobs.documents.storage_grant import StorageGrant
from airflow_provider_dsjobs.jobs.service import JobService
from airflow_provider_dsjobs.settings import Settings

PASSWORDS = {"admin": "admin-pw", "viewer": "viewer-pw", "op": "op-pw", "alice": "alice-pw", "bob": "bob-pw"}
#: What the api-server's Airflow knows as secrets (``conftest._server_env``): the project's (the Variable
#: ``dsjobs_project_secrets_default``), a ``secret-id`` (a Variable) and the connection's ``LAB_API_TOKEN``.
PROJECT_SECRETS = {"WAREHOUSE_URI": "project-secret-7f3a9c"}
SECRET_IDS = {"registry-pw": "registry-secret-51d2e8"}
LAB_TOKEN = "lab-token-c0ffee42"
#: A DAG the jobs of a test say launched them (``run_echo(..., dag_id=...)``).
DAG_ID = "dsjobs_page_dag"
ECHO = Path(__file__).resolve().parent / "jobs" / "echo" / "config.yaml"
SLEEPER = Path(__file__).resolve().parent / "jobs" / "sleeper" / "config.yaml"
#: The test api-server's cap on live log streams (more than its 40 shared threads) and how long one lasts.
FOLLOW_CAP = 41
FOLLOW_SECONDS = 20
GIB, MIB = 1 << 30, 1 << 20
#: What finalizing a job with ``working-storage`` and two read-write s3-mounts (one whose sync failed) records.
GRANT = StorageGrant(
    requested_bytes=150 * GIB,
    mode="checked",
    free_bytes=400 * GIB + 512 * MIB,
    storage_driver="overlay2 on extfs",
    held_bytes=20 * GIB,
)
SYNCS = [
    MountSync(
        "lake",
        "s3://lake-bucket/ckpt",
        uploaded_files=3,
        uploaded_bytes=3 * MIB + 512 * 1024,
        unchanged_files=2,
        skipped=["passwd-link: a symbolic link"],
    ),
    MountSync(
        "scratch",
        "s3://scratch-bucket/tmp",
        error="An error occurred (AccessDenied) when calling the PutObject operation: Access Denied",
    ),
]


def run_echo(service: JobService, *, wait: bool = True, dag_id: str | None = None, **args: str) -> JobRecord:
    """The echo job; ``args`` (``LINES``, ``SLEEP``) override its defaults (3 lines, no pause); ``dag_id``: the
    DAG its labels say launched it (none: a CLI job)."""
    config = load_config(ECHO)
    if args:
        config = apply_overrides(config, Overrides(args=args))
    record = service.submit(config, labels={"airflow.dag_id": dag_id} if dag_id else None)
    return service.wait(record.id) if wait else record


def run_sleeper(service: JobService, seconds: int = 600) -> JobRecord:
    """The sleeper job, submitted (running, not waited for): one line, then silence; SIGTERM ends it (2d grace)."""
    config = apply_overrides(load_config(SLEEPER), Overrides(args={"SECONDS": str(seconds)}))
    return service.submit(config)


def follow_in_background(settings: Settings, job_id: str) -> threading.Thread:
    """The job's follower, as its task would be (``JobService.wait``: streams, kills a cancel that outlived its
    graceful timeout, finalizes), in a thread of its own with a service of its own."""

    def follow() -> None:
        service = JobService(settings)
        try:
            service.wait(job_id, timeout=300)
        finally:
            service.close()

    thread = threading.Thread(target=follow, name=f"follower-{job_id}", daemon=True)
    thread.start()
    return thread


def with_resources(service: JobService, record: JobRecord) -> JobRecord:
    """The finished ``record`` as the finalizer of a job that used project resources leaves it: :data:`GRANT`,
    :data:`SYNCS`, and ERROR for the failed sync (what an engine's disk and a bucket give cannot be chosen on a
    shared engine; ``tests/jobs/test_working_storage.py`` and ``test_s3_sync.py`` run them for real)."""
    failed = SYNCS[1]
    record.working_storage = GRANT
    record.s3_sync = list(SYNCS)
    record.status = JobStatus.ERROR
    record.status_details = f"syncing s3-mount {failed.id} back to {failed.url} failed: {failed.error}"
    record.history[-1] = replace(record.history[-1], status=JobStatus.ERROR)
    service.jobs.save(record)
    return record


@dataclass
class ApiServer:
    url: str
    env: dict[str, str]
    log: Path
    tokens: dict[str, str] = field(default_factory=dict)

    def settings(self, project: str = "default") -> Settings:
        return Settings.from_env({**self.env, "DSJOBS_PROJECT": project})

    def token(self, user: str) -> str:
        if user not in self.tokens:
            body = json.dumps({"username": user, "password": PASSWORDS[user]}).encode()
            request = urllib.request.Request(
                f"{self.url}/auth/token", data=body, headers={"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                self.tokens[user] = json.load(response)["access_token"]
        return self.tokens[user]

    def request(
        self, path: str, *, user: str | None = "admin", method: str = "GET", body: Any = None, **headers: str
    ) -> tuple[int, dict[str, str], bytes]:
        """``(status, headers, body)`` of one request, without following redirects."""
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        if user is not None:
            headers["Authorization"] = f"Bearer {self.token(user)}"
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method, headers=headers)
        opener = urllib.request.build_opener(_NoRedirect)
        try:
            with opener.open(request, timeout=60) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read()

    def json(self, path: str, **kwargs: Any) -> Any:
        status, _, body = self.request(path, **kwargs)
        assert status == 200, (status, body[:500])
        return json.loads(body)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None
