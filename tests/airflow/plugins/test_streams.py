"""Log streams, page reads and cancels against a real api-server and a real Docker engine: open pages never stall
the api-server, reading a job changes nothing, a cancel only asks, and request sizes are capped."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest

from airflow_provider_dsjobs.documents.record import JobRecord, JobStatus
from airflow_provider_dsjobs.jobs.service import JobService
from tests.airflow.plugins.helpers import FOLLOW_CAP, FOLLOW_SECONDS, ApiServer, run_echo, run_sleeper

pytestmark = [pytest.mark.airflow, pytest.mark.docker]

#: How long an answer may take on this shared, loaded machine and still count as "the server answers".
ANSWERS_WITHIN = 20.0


def _open_follow(api_server: ApiServer, job_id: str) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    """A follow request whose response headers have arrived; the body is left unread (an open page)."""
    url = urlparse(api_server.url)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=60)
    conn.request(
        "GET",
        f"/dsjobs/api/jobs/{job_id}/logs?follow=true",
        headers={"Authorization": f"Bearer {api_server.token('admin')}"},
    )
    return conn, conn.getresponse()


def _answers(api_server: ApiServer, path: str) -> int:
    """The status of ``path``, asked with a client timeout of ``ANSWERS_WITHIN`` seconds (a timeout fails)."""
    url = urlparse(api_server.url)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=ANSWERS_WITHIN)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {api_server.token('admin')}"})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


@pytest.fixture()
def sleeping(server_service: JobService) -> Iterator[JobRecord]:
    """A running job that has printed its one line (its SIGTERM handler is in place) and then prints nothing;
    killed afterwards."""
    record = run_sleeper(server_service)
    deadline = time.monotonic() + 120
    while "sleeper started" not in [line for _, line in server_service.logs(record.id)]:
        assert time.monotonic() < deadline, "the sleeper job never started"
        time.sleep(0.5)
    yield record
    server_service.cancel(record.id, graceful=False)


def test_open_log_streams_never_stall_the_api_server(api_server: ApiServer, sleeping: JobRecord) -> None:
    token = api_server.token("admin")  # before the streams: logging in is a request too
    assert token
    opened: list[tuple[http.client.HTTPConnection, http.client.HTTPResponse]] = []
    try:
        for _ in range(45):
            opened.append(_open_follow(api_server, sleeping.id))
        accepted = [(c, r) for c, r in opened if r.status == 200]
        refused = [(c, r) for c, r in opened if r.status != 200]
        assert len(accepted) == FOLLOW_CAP, [r.status for _, r in opened]
        assert [r.status for _, r in refused] == [429] * (45 - FOLLOW_CAP)
        detail = json.loads(refused[0][1].read())["detail"]
        assert f"already streams {FOLLOW_CAP} live logs" in detail and "\n" not in detail
        assert refused[0][1].getheader("Retry-After")
        # The streams are live: the job's one line arrives on them.
        assert b"sleeper started" in accepted[0][1].readline()
        # More open streams than the api-server has shared threads, and the rest of it still answers.
        assert _answers(api_server, "/api/v2/monitor/health") == 200
        assert _answers(api_server, "/api/v2/dags") == 200
        assert _answers(api_server, f"/dsjobs/api/jobs/{sleeping.id}") == 200
        # Clients that leave give their slots back: a new follow gets in.
        for conn, _ in accepted[:5]:
            conn.close()
        deadline = time.monotonic() + 60
        while True:
            conn, response = _open_follow(api_server, sleeping.id)
            opened.append((conn, response))
            if response.status == 200:
                break
            assert response.status == 429
            assert time.monotonic() < deadline, "closed streams never gave their slots back"
            conn.close()
            time.sleep(1)
    finally:
        for conn, _ in opened:
            conn.close()


def test_a_follow_stream_ends_after_its_time(api_server: ApiServer, sleeping: JobRecord) -> None:
    started = time.monotonic()
    status, _, body = api_server.request(f"/dsjobs/api/jobs/{sleeping.id}/logs?follow=true&tail=5")
    assert status == 200 and time.monotonic() - started >= FOLLOW_SECONDS - 1
    assert [json.loads(line) for line in body.splitlines()] == [{"stream": "stdout", "line": "sleeper started"}]


def test_reading_an_exited_job_changes_nothing(api_server: ApiServer, server_service: JobService) -> None:
    record = run_echo(server_service, wait=False)
    container = record.container_id or ""
    deadline = time.monotonic() + 120
    while not (server_service.runtime.state(container) or pytest.fail("container gone")).finished:
        assert time.monotonic() < deadline, "the echo job never exited"
        time.sleep(0.5)
    before = server_service.jobs.load(record.id)
    job = api_server.json(f"/dsjobs/api/jobs/{record.id}")
    assert (job["status"], job["container_exit_code"], job["outputs"]) == ("EXECUTING", 0, [])
    status, _, page = api_server.request(f"/dsjobs/jobs/{record.id}")
    assert status == 200 and b"The container exited (code 0); the job is not finalized yet" in page
    status, _, log = api_server.request(f"/dsjobs/api/jobs/{record.id}/logs?follow=true")
    assert status == 200 and b"a warning on stderr" in log
    # Nothing was finalized: the record is as it was, no outputs were stored, the container is still there.
    assert server_service.jobs.load(record.id) == before
    assert server_service.output_files(record.id) == []
    assert server_service.runtime.state(container) is not None
    # Its follower (here ``dsjobs get``'s call) finalizes it.
    assert server_service.get(record.id).status == JobStatus.SUCCESS
    assert api_server.json(f"/dsjobs/api/jobs/{record.id}")["container_exit_code"] is None


def test_cancel_asks_once_and_the_follower_ends_it(
    api_server: ApiServer, server_service: JobService, sleeping: JobRecord
) -> None:
    path = f"/dsjobs/api/jobs/{sleeping.id}/cancel"
    # a viewer may not act (a CLI job like this one it may not even see: 404; a DAG's job it can read: 403)
    assert api_server.request(path, user="viewer", method="POST", body={})[0] in (403, 404)
    # The graceful timeout is two days: the answer does not wait for it, and nothing is left waiting for it.
    status, _, body = api_server.request(path, method="POST", body={})
    assert status == 202 and json.loads(body)["status"] == "CANCELLING"
    status, _, body = api_server.request(path, method="POST", body={})
    assert status == 202 and json.loads(body)["status"] == "CANCELLING"
    assert server_service.read(sleeping.id).status == JobStatus.CANCELLING
    ended = server_service.wait(sleeping.id, timeout=120)  # the job's follower (its task, `dsjobs attach`)
    assert ended.status == JobStatus.CANCELLED
    lines = [line for _, line in server_service.logs(sleeping.id)]
    assert lines.count("got SIGTERM") == 1, lines  # one signal, however often cancel was asked for
    assert [h.status for h in ended.history].count(JobStatus.CANCELLING) == 1
    assert api_server.request(path, method="POST", body={})[0] == 409


def test_cancel_of_a_job_nobody_follows_leaves_it_cancelling(api_server: ApiServer, sleeping: JobRecord) -> None:
    """Without a follower the api-server does not finish the job (no background work): it stays CANCELLING,
    its container stopped by the signal, until its task or ``dsjobs get`` finalizes it."""
    status, _, _ = api_server.request(f"/dsjobs/api/jobs/{sleeping.id}/cancel", method="POST", body={})
    assert status == 202
    time.sleep(3)  # the program's 1 s of grace, and more
    job = api_server.json(f"/dsjobs/api/jobs/{sleeping.id}")
    assert job["status"] == "CANCELLING" and job["container_exit_code"] == 0


def test_request_sizes_are_capped(api_server: ApiServer, server_service: JobService) -> None:
    record = run_echo(server_service)
    logs = f"/dsjobs/api/jobs/{record.id}/logs"
    for query in ("tail=20001", "tail=1000000", "tail=0"):
        status, _, body = api_server.request(f"{logs}?{query}")
        assert status == 422 and b"tail" in body, (query, status)
    assert api_server.request(f"{logs}?tail=20000")[0] == 200
    assert api_server.request("/dsjobs/api/jobs?limit=501")[0] == 422
    assert api_server.request("/dsjobs/api/jobs?offset=10000001")[0] == 422
    many = "&".join(["status=SUCCESS"] * 21)
    assert api_server.request(f"/dsjobs/api/jobs?{many}")[0] == 422
    assert api_server.request("/dsjobs/api/jobs?" + "&".join(["status=SUCCESS"] * 20))[0] == 200
