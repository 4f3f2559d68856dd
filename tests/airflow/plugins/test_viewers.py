"""What page viewers may see, against the real api-server and real jobs on Docker: a job's secrets masked in its
log (whole, tail, live) and on its page; jobs started outside Airflow only for those who may read the connection;
``conn_id`` only a dsjobs connection; errors without the store's URI or the engine's address."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dsjobs.config import Overrides, apply_overrides, load_config_text
from airflow_provider_dsjobs.documents.mount_sync import MountSync
from airflow_provider_dsjobs.documents.record import JobRecord, JobStatus
from airflow_provider_dsjobs.jobs.service import JobService
from airflow_provider_dsjobs.lab import LabJobConfig, submit_lab_job
from tests.airflow.plugins.conftest import BROKEN_CONN, NOT_DSJOBS_CONN
from tests.airflow.plugins.helpers import (
    DAG_ID,
    LAB_TOKEN,
    PROJECT_SECRETS,
    SECRET_IDS,
    ApiServer,
    run_echo,
)
from tests.lab.helpers import build_image

pytestmark = [pytest.mark.airflow, pytest.mark.docker]

SECRETS_JOB = Path(__file__).resolve().parent / "jobs" / "secrets"
PROJECT_SECRET = PROJECT_SECRETS["WAREHOUSE_URI"]
SECRET_ID_VALUE = SECRET_IDS["registry-pw"]
LITERAL = "literal-secret-99aa11"


def _lines(body: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in body.splitlines()]


@pytest.fixture()
def secret_service(api_server: ApiServer) -> Iterator[JobService]:
    """A JobService that resolves secrets as the api-server's Airflow does (the same values), so the jobs it
    submits get exactly what the page must mask."""
    settings = dataclasses.replace(
        api_server.settings(), project_secrets=lambda _settings: dict(PROJECT_SECRETS), secret_resolver=SECRET_IDS.get
    )
    service = JobService(settings)
    yield service
    for record in service.list_jobs():
        if not record.status.terminal:
            with contextlib.suppress(Exception):  # best-effort cleanup of this test's containers
                service.cancel(record.id, graceful=False)
    service.close()


def _submit_secrets_job(service: JobService, test_image: str, sleep: str) -> JobRecord:
    text = (SECRETS_JOB / "config.yaml").read_text().replace("IMAGE", test_image)
    config = load_config_text(text, source="secrets/config.yaml", base_dir=SECRETS_JOB)
    # The job got the registry password (a secret-id) some other way too, and prints it.
    config = apply_overrides(config, Overrides(args={"SLEEP": sleep}))
    return service.submit(config, labels={"airflow.dag_id": DAG_ID}, environ={"REGISTRY_COPY": SECRET_ID_VALUE})


def _assert_masked(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text, secret
    assert "***" in text


def test_finished_job_log_tail_and_page_mask_its_secrets(
    api_server: ApiServer, secret_service: JobService, test_image: str
) -> None:
    record = secret_service.wait(_submit_secrets_job(secret_service, test_image, "0").id)
    assert record.status == JobStatus.SUCCESS, record.status_details
    path = f"/dsjobs/api/jobs/{record.id}"
    status, _, body = api_server.request(f"{path}/logs", user="viewer")
    assert status == 200
    lines = _lines(body)
    said = [entry["line"] for entry in lines]
    assert "hello: the project secret is ***" in said
    assert "the registry password (a secret-id) is ***" in said
    _assert_masked(body.decode(), PROJECT_SECRET, SECRET_ID_VALUE)
    status, _, tail = api_server.request(f"{path}/logs?tail=4", user="viewer")
    assert status == 200 and len(_lines(tail)) == 4
    assert PROJECT_SECRET not in tail.decode() and SECRET_ID_VALUE not in tail.decode()

    # What the finalizer of a failed build and a failed sync would record: text that quotes the job's output.
    record.status_details = f"Python environment build failed: pip said {PROJECT_SECRET} and {SECRET_ID_VALUE}"
    record.s3_sync = [MountSync("lake", "s3://lake-bucket/x", error=f"denied for key {SECRET_ID_VALUE}")]
    secret_service.jobs.save(record)
    for user in ("viewer", "admin"):
        status, _, page = api_server.request(f"/dsjobs/jobs/{record.id}", user=user)
        assert status == 200 and b"Python environment build failed: pip said ***" in page
        _assert_masked(page.decode(), PROJECT_SECRET, SECRET_ID_VALUE)
        detail = api_server.json(path, user=user)
        assert detail["status_details"] == "Python environment build failed: pip said *** and ***"
        assert detail["s3_sync"][0]["error"] == "denied for key ***"
        listing = api_server.request("/dsjobs/api/jobs", user=user)[2].decode()
        assert record.id in listing and PROJECT_SECRET not in listing
    # An action's answer is the job's summary: masked the same way.
    changed = api_server.json(f"{path}/data-ttl", method="POST", body={"days": 30})
    assert changed["status_details"] == "Python environment build failed: pip said *** and ***"


def test_live_log_masks_the_containers_secret_env_values(
    api_server: ApiServer, secret_service: JobService, test_image: str
) -> None:
    """While the container exists its env is read too: the literal secret-looking value the record keeps as
    ``***`` is masked in the followed log."""
    record = _submit_secrets_job(secret_service, test_image, "300")
    path = f"/dsjobs/api/jobs/{record.id}/logs"
    deadline = time.monotonic() + 120
    while True:
        status, _, body = api_server.request(path, user="viewer")
        assert status == 200, body[:300]
        if b"done telling" in body:
            break
        assert time.monotonic() < deadline, "the job never told its secrets"
        time.sleep(0.5)
    assert secret_service.read(record.id).status == JobStatus.EXECUTING
    said = [entry["line"] for entry in _lines(body)]
    assert "the session password is ***" in said
    _assert_masked(body.decode(), LITERAL, PROJECT_SECRET, SECRET_ID_VALUE)
    # A follow stream of the running job: its first lines are masked the same way.
    status, _, followed = api_server.request(f"{path}?tail=4", user="viewer")
    assert status == 200 and LITERAL not in followed.decode() and b"***" in followed
    secret_service.cancel(record.id, graceful=False)
    # Followed until its container stops: every line masked as it comes.
    short = _submit_secrets_job(secret_service, test_image, "3")
    status, _, followed = api_server.request(f"/dsjobs/api/jobs/{short.id}/logs?follow=true", user="viewer")
    assert status == 200 and b"done telling" in followed
    assert "the session password is ***" in [entry["line"] for entry in _lines(followed)]
    _assert_masked(followed.decode(), LITERAL, PROJECT_SECRET, SECRET_ID_VALUE)


@pytest.fixture()
def token_image(docker_client: Any, test_image: str) -> Iterator[str]:
    """An ML Lab job image whose own command prints the ``LAB_API_TOKEN`` it is given."""
    tag = f"dsjobs-test-lab/tell-token:{uuid.uuid4().hex[:10]}"
    build_image(docker_client, test_image, tag, 'ENTRYPOINT ["/bin/sh", "-c", "echo token is $LAB_API_TOKEN"]\n')
    yield tag
    with contextlib.suppress(Exception):
        docker_client.images.remove(tag, force=True)


def test_lab_job_log_masks_the_connections_lab_token(
    api_server: ApiServer, secret_service: JobService, token_image: str
) -> None:
    assert secret_service.settings.lab_api_token == LAB_TOKEN
    started = submit_lab_job(secret_service, LabJobConfig(image=token_image), labels={"airflow.dag_id": DAG_ID})
    record = secret_service.wait(started.id)
    assert record.status == JobStatus.SUCCESS, record.status_details
    for query in ("", "?tail=2"):
        status, _, body = api_server.request(f"/dsjobs/api/jobs/{record.id}/logs{query}", user="viewer")
        assert status == 200 and {"stream": "stdout", "line": "token is ***"} in _lines(body)
        assert LAB_TOKEN not in body.decode()


# -- who sees jobs started outside Airflow -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_and_dag_jobs(api_server: ApiServer) -> tuple[JobRecord, JobRecord]:
    service = JobService(api_server.settings())
    try:
        return run_echo(service), run_echo(service, dag_id=DAG_ID)
    finally:
        service.close()


def test_cli_jobs_need_read_access_to_the_connection(
    api_server: ApiServer, cli_and_dag_jobs: tuple[JobRecord, JobRecord]
) -> None:
    cli_job, dag_job = cli_and_dag_jobs
    seen = [j["id"] for j in api_server.json("/dsjobs/api/jobs?limit=500", user="viewer")["jobs"]]
    assert dag_job.id in seen and cli_job.id not in seen
    assert api_server.json(f"/dsjobs/api/jobs/{dag_job.id}", user="viewer")["id"] == dag_job.id
    for path in (
        f"/dsjobs/api/jobs/{cli_job.id}",
        f"/dsjobs/api/jobs/{cli_job.id}/logs",
        f"/dsjobs/api/jobs/{cli_job.id}/outputs/vars/RESULT/result.txt",
        f"/dsjobs/jobs/{cli_job.id}",
    ):
        status, _, body = api_server.request(path, user="viewer")
        assert status == 404 and b"hello from the plugin job" not in body, (path, status)
    # A viewer's page of jobs does not show it either.
    status, _, page = api_server.request("/dsjobs/", user="viewer")
    assert status == 200 and cli_job.id.encode() not in page and dag_job.id.encode() in page
    # An Op may read connections: it sees both, their logs and outputs.
    for user in ("op", "admin"):
        seen = [j["id"] for j in api_server.json("/dsjobs/api/jobs?limit=500", user=user)["jobs"]]
        assert cli_job.id in seen and dag_job.id in seen
        status, _, body = api_server.request(f"/dsjobs/api/jobs/{cli_job.id}/logs", user=user)
        assert status == 200 and b"hello from the plugin job, line 0" in body
        status, _, body = api_server.request(f"/dsjobs/api/jobs/{cli_job.id}/outputs/vars/RESULT/result.txt", user=user)
        assert status == 200 and body == b"result of the plugin job\n"


# -- conn_id -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "conn_id",
    ["not_dsjobs", "no_such_connection", "../../etc/passwd", "<script>alert(1)</script>", "dsjobs_default\nx"],
)
def test_conn_id_must_name_a_dsjobs_connection(api_server: ApiServer, conn_id: str) -> None:
    from urllib.parse import quote

    for path in (f"/dsjobs/api/jobs?conn_id={quote(conn_id)}", f"/dsjobs/?conn_id={quote(conn_id)}"):
        status, headers, body = api_server.request(path, user="admin")
        assert status == 404, (conn_id, path, status, body[:300])
        assert headers["content-type"].startswith("application/json")
        detail = json.loads(body)["detail"]
        assert detail == f"no dsjobs connection {conn_id!r}" and "\n" not in detail
        for leak in (NOT_DSJOBS_CONN["password"], NOT_DSJOBS_CONN["login"], "10.9.8.7"):
            assert leak not in body.decode()


# -- errors ------------------------------------------------------------------------------------------------------


def _assert_no_address(body: bytes, *addresses: str) -> None:
    text = body.decode(errors="replace")
    for address in addresses:
        assert address not in text, address
    assert "://" not in text


def test_errors_name_no_store_uri_or_engine_address(
    api_server: ApiServer, secret_service: JobService, test_image: str
) -> None:
    store = BROKEN_CONN["extra"]
    hidden = ("hidden-bucket-7c1", "jobs-prefix", "127.0.0.1:9", str(BROKEN_CONN["password"]))
    for path in ("/dsjobs/api/jobs?conn_id=dsjobs_broken", "/dsjobs/?conn_id=dsjobs_broken"):
        status, _, body = api_server.request(path, user="admin")
        assert status == 503, (path, status, body[:300])
        assert b"cannot be reached now" in body
        _assert_no_address(body, *hidden, store["store_url"])
    job = "j20260101-000000000-abcdefgh"
    status, _, body = api_server.request(f"/dsjobs/api/jobs/{job}?conn_id=dsjobs_broken", user="admin")
    assert status == 503
    _assert_no_address(body, *hidden)
    # A job that does not exist in the working local store: its message names no file:// path.
    status, _, body = api_server.request(f"/dsjobs/api/jobs/{job}", user="admin")
    assert status == 404 and job.encode() in body
    _assert_no_address(body, api_server.env["DSJOBS_HOME"])
    # A running job read through a connection whose engine is unreachable: no tcp:// address, no path.
    running = _submit_secrets_job(secret_service, test_image, "300")
    status, _, body = api_server.request(f"/dsjobs/api/jobs/{running.id}/logs?conn_id=dsjobs_broken_engine")
    assert status in (200, 503), body[:300]
    _assert_no_address(body, "127.0.0.1:9", api_server.env["DSJOBS_HOME"])
    status, _, body = api_server.request(f"/dsjobs/jobs/{running.id}?conn_id=dsjobs_broken_engine")
    assert status == 200 and b"plugin-secrets" in body  # the store answers: the page shows what it says
    _assert_no_address(body, "127.0.0.1:9", api_server.env["DSJOBS_HOME"])
