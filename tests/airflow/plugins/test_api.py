"""The plugin's JSON API against a real api-server (simple auth manager, SQLite) and real jobs on Docker."""

from __future__ import annotations

import json
import time

import pytest

from airflow_provider_dsjobs import compat
from airflow_provider_dsjobs.documents.record import JobRecord, JobStatus
from airflow_provider_dsjobs.jobs.service import JobService
from tests.airflow.plugins.helpers import DAG_ID, GIB, MIB, ApiServer, follow_in_background, run_echo

pytestmark = [pytest.mark.airflow, pytest.mark.docker]


@pytest.fixture(scope="module")
def finished(api_server: ApiServer) -> JobRecord:
    service = JobService(api_server.settings())
    try:
        return run_echo(service)
    finally:
        service.close()


def test_anonymous_requests_get_no_job_data(api_server: ApiServer, finished: JobRecord) -> None:
    for path in (
        "/dsjobs/api/jobs",
        f"/dsjobs/api/jobs/{finished.id}",
        f"/dsjobs/api/jobs/{finished.id}/logs",
        f"/dsjobs/api/jobs/{finished.id}/outputs/vars/RESULT/result.txt",
    ):
        status, _, body = api_server.request(path, user=None)
        assert status == 401, (path, status)
        assert finished.id.encode() not in body and b"plugin job" not in body
    # A page: to the login page (3.0: through session.js, its UI keeps the login elsewhere), never job data.
    login = 303 if compat.ui_keeps_session_cookie() else 401
    status, headers, body = api_server.request("/dsjobs/", user=None)
    assert status == login and b"/auth/login" in (headers.get("location", "").encode() + body)
    status, headers, body = api_server.request(f"/dsjobs/jobs/{finished.id}", user=None)
    assert status == login  # the body holds at most the asked URL (3.0: in the login link), no job data
    assert b"plugin-echo" not in body and b"plugin job" not in body and b"SUCCESS" not in body
    status, _, _ = api_server.request(
        f"/dsjobs/api/jobs/{finished.id}/cancel", user=None, method="POST", body={"graceful": False}
    )
    assert status == 401


def test_with_all_admins_no_login_is_needed(all_admins_server: ApiServer, finished: JobRecord) -> None:
    listing = all_admins_server.json("/dsjobs/api/jobs", user=None)
    assert finished.id in [j["id"] for j in listing["jobs"]]
    status, _, body = all_admins_server.request(f"/dsjobs/jobs/{finished.id}", user=None)
    assert status == 200 and b"plugin-echo" in body and b"Set TTL" in body


def test_a_forged_token_gets_no_job_data(api_server: ApiServer, finished: JobRecord) -> None:
    status, _, body = api_server.request("/dsjobs/api/jobs", user=None, Authorization="Bearer not.a.token")
    assert status in (401, 403) and finished.id.encode() not in body


def test_list_shows_the_job_newest_first_and_filters(api_server: ApiServer, finished: JobRecord) -> None:
    listing = api_server.json("/dsjobs/api/jobs")
    assert listing["project"] == "default"
    ids = [j["id"] for j in listing["jobs"]]
    assert finished.id in ids
    assert ids == sorted(ids, reverse=True)
    job = next(j for j in listing["jobs"] if j["id"] == finished.id)
    assert job["name"] == "plugin-echo" and job["status"] == "SUCCESS" and job["return_code"] == 0
    assert job["instance_type"] is None  # the echo job names no type: the engine's own resources
    assert job["data_expires_at"] and job["duration_seconds"] >= 0
    assert finished.id in [j["id"] for j in api_server.json("/dsjobs/api/jobs?status=SUCCESS&q=ECHO")["jobs"]]
    assert api_server.json("/dsjobs/api/jobs?status=ERROR,CANCELLED&q=plugin-echo")["jobs"] == []
    assert api_server.json("/dsjobs/api/jobs?q=no-such-name")["total"] == 0
    status, _, body = api_server.request("/dsjobs/api/jobs?status=DONE")
    assert status == 400 and b"unknown job status 'DONE'" in body


def test_job_detail_has_history_outputs_and_a_config_without_secrets(
    api_server: ApiServer, finished: JobRecord
) -> None:
    job = api_server.json(f"/dsjobs/api/jobs/{finished.id}")
    assert [h["status"] for h in job["history"]] == [
        "CREATING",
        "PREPARING",
        "EXECUTING",
        "UPLOADING_OUTPUT",
        "SUCCESS",
    ]
    assert [(o["output"], o["path"]) for o in job["outputs"]] == [("RESULT", "vars/RESULT/result.txt")]
    assert "GREETING" in job["config_yaml"] and "hello" in job["config_yaml"]
    assert "not-for-anyone-s-eyes" not in json.dumps(job)
    assert job["launched_by"] is None and job["can_cancel"] is False and job["can_change_data"] is True
    status, headers, body = api_server.request(job["outputs"][0]["download_url"])
    assert status == 200 and body == b"result of the plugin job\n"
    assert "result.txt" in headers["content-disposition"]


def test_job_detail_says_what_the_job_got_from_project_resources(
    api_server: ApiServer, finished: JobRecord, resourced_job: JobRecord
) -> None:
    job = api_server.json(f"/dsjobs/api/jobs/{resourced_job.id}")
    assert job["working_storage"] == {
        "requested_bytes": 150 * GIB,
        "mode": "checked",
        "free_bytes": 400 * GIB + 512 * MIB,
        "limit_bytes": None,
        "held_bytes": 20 * GIB,
        "storage_driver": "overlay2 on extfs",
        "path": "/job/work",
        "description": "working storage 150.0 GiB at /job/work: no size limit on overlay2 on extfs, checked; "
        "400.5 GiB free on the engine's disk, 20.0 GiB of it held by other jobs' working storage",
    }
    lake, scratch = job["s3_sync"]
    assert lake == {
        "id": "lake",
        "url": "s3://lake-bucket/ckpt",
        "uploaded_files": 3,
        "uploaded_bytes": 3 * MIB + 512 * 1024,
        "unchanged_files": 2,
        "skipped": ["passwd-link: a symbolic link"],
        "error": None,
    }
    assert (scratch["id"], scratch["uploaded_files"]) == ("scratch", 0)
    assert scratch["error"] == "An error occurred (AccessDenied) when calling the PutObject operation: Access Denied"
    assert job["status"] == "ERROR" and job["status_details"].startswith("syncing s3-mount scratch back to ")
    # A job without either shows neither, in the JSON or on its page.
    plain = api_server.json(f"/dsjobs/api/jobs/{finished.id}")
    assert plain["working_storage"] is None and plain["s3_sync"] == []
    status, _, body = api_server.request(f"/dsjobs/jobs/{finished.id}")
    assert status == 200 and b"Working storage" not in body and b"S3 mounts synced back" not in body


def test_log_comes_as_ndjson(api_server: ApiServer, finished: JobRecord) -> None:
    status, headers, body = api_server.request(f"/dsjobs/api/jobs/{finished.id}/logs")
    assert status == 200 and headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in body.splitlines()]
    assert {"stream": "stdout", "line": "hello from the plugin job, line 0"} in lines
    assert {"stream": "stderr", "line": "a warning on stderr"} in lines
    tail = [
        json.loads(line) for line in api_server.request(f"/dsjobs/api/jobs/{finished.id}/logs?tail=1")[2].splitlines()
    ]
    assert tail == lines[-1:]


def test_unknown_job_and_output_are_404(api_server: ApiServer, finished: JobRecord) -> None:
    assert api_server.request("/dsjobs/api/jobs/j20200101-000000000-nosuchjb")[0] == 404
    assert api_server.request(f"/dsjobs/api/jobs/{finished.id}/outputs/../record.json")[0] == 404
    assert api_server.request(f"/dsjobs/api/jobs/{finished.id}/outputs/vars/RESULT/other.txt")[0] == 404


def test_a_job_id_with_a_trailing_newline_names_no_job(api_server: ApiServer, finished: JobRecord) -> None:
    for path in (
        f"/dsjobs/api/jobs/{finished.id}%0A",
        f"/dsjobs/api/jobs/{finished.id}%0A/logs",
        f"/dsjobs/api/jobs/{finished.id}%0A/outputs/vars/RESULT/result.txt",
        f"/dsjobs/jobs/{finished.id}%0A",
    ):
        status, _, body = api_server.request(path)
        assert status == 404, (path, status)
        # Either no route takes it or the service refuses the id: never the job's data under another name.
        assert finished.id.encode() not in body and b"plugin-echo" not in body, (path, body[:300])


def test_viewer_sees_jobs_but_cannot_act(api_server: ApiServer, server_service: JobService) -> None:
    dag_job = run_echo(server_service, dag_id=DAG_ID)  # a viewer sees the jobs of DAGs whose task logs it may read
    job = api_server.json(f"/dsjobs/api/jobs/{dag_job.id}", user="viewer")
    assert job["can_change_data"] is False and job["launched_by"]["dag_id"] == DAG_ID
    status, _, _ = api_server.request(
        f"/dsjobs/api/jobs/{dag_job.id}/data-ttl", user="viewer", method="POST", body={"days": 3}
    )
    assert status == 403


def test_set_data_ttl(api_server: ApiServer, finished: JobRecord) -> None:
    job = api_server.json(f"/dsjobs/api/jobs/{finished.id}/data-ttl", method="POST", body={"days": None})
    assert job["data_expires_at"] is None
    job = api_server.json(f"/dsjobs/api/jobs/{finished.id}/data-ttl", method="POST", body={"days": 30})
    assert job["data_expires_at"] is not None
    # A non-JSON post (what a page on another site could make a logged-in browser send) changes nothing.
    for action, body in (("data-ttl", {"days": 1}), ("cancel", {})):
        status, _, _ = api_server.request(
            f"/dsjobs/api/jobs/{finished.id}/{action}", method="POST", body=body, **{"Content-Type": "text/plain"}
        )
        assert status in (415, 422), (action, status)
    assert api_server.json(f"/dsjobs/api/jobs/{finished.id}")["data_expires_at"] == job["data_expires_at"]


def test_clear_data_keeps_the_record(api_server: ApiServer, server_service: JobService) -> None:
    record = run_echo(server_service)
    path = f"/dsjobs/api/jobs/{record.id}"
    # A job started outside Airflow is not even visible to a viewer (who may not read the connection).
    assert api_server.request(f"{path}/clear", user="viewer", method="POST", body={})[0] == 404
    assert api_server.request(f"{path}/clear", method="POST", body={}, **{"Content-Type": "text/plain"})[0] in (
        415,
        422,
    )
    job = api_server.json(f"{path}/clear", method="POST", body={})
    assert job["data_cleared"] is True and job["status"] == "SUCCESS"  # the record stays
    assert api_server.json(path)["can_change_data"] is False
    status, _, body = api_server.request(f"{path}/outputs/vars/RESULT/result.txt")
    assert status == 404 and b"cleared" in body
    running = run_echo(server_service, wait=False, SLEEP="5", LINES="100")
    status, _, body = api_server.request(f"/dsjobs/api/jobs/{running.id}/clear", method="POST", body={})
    assert status == 409 and b"still running" in body
    server_service.cancel(running.id, graceful=False)


def test_cancel_a_running_job(api_server: ApiServer, server_service: JobService) -> None:
    record = run_echo(server_service, wait=False, SLEEP="5", LINES="100")
    job = api_server.json(f"/dsjobs/api/jobs/{record.id}")
    assert job["can_cancel"] is True
    follower = follow_in_background(api_server.settings(), record.id)  # the job's task, say
    status, _, _ = api_server.request(f"/dsjobs/api/jobs/{record.id}/cancel", method="POST", body={"graceful": False})
    assert status == 202
    deadline = time.monotonic() + 120
    while api_server.json(f"/dsjobs/api/jobs/{record.id}")["status"] != "CANCELLED":
        assert time.monotonic() < deadline, "the job never ended CANCELLED"
        time.sleep(0.5)
    assert api_server.request(f"/dsjobs/api/jobs/{record.id}/cancel", method="POST", body={})[0] == 409
    follower.join(timeout=60)


def test_connection_chooses_the_project(api_server: ApiServer, finished: JobRecord) -> None:
    other = JobService(api_server.settings(project="other"))
    try:
        other_job = run_echo(other)
    finally:
        other.close()
    listing = api_server.json("/dsjobs/api/jobs?conn_id=dsjobs_other")
    assert listing["project"] == "other" and [j["id"] for j in listing["jobs"]] == [other_job.id]
    assert api_server.request(f"/dsjobs/api/jobs/{finished.id}?conn_id=dsjobs_other")[0] == 404


def test_plugin_adds_a_nav_entry(api_server: ApiServer) -> None:
    plugins = api_server.json("/api/v2/plugins")["plugins"]
    ours = next(p for p in plugins if p["name"] == "dsjobs")
    if compat.plugin_external_views():
        assert [(v["name"], v["href"], v["destination"]) for v in ours["external_views"]] == [
            ("DataSphere Jobs", "/dsjobs/", "nav")
        ]
    else:  # Airflow 3.0: a "Plugins" menu link only with the FAB provider (its api-server refuses one without)
        assert compat.AIRFLOW_VERSION.release[:2] == (3, 0), "Airflow 3.1+ must offer external_views"
        expected = [("DataSphere Jobs", "/dsjobs/")] if compat.plugin_menu_items() else []
        assert [(i["name"], i["href"]) for i in ours["appbuilder_menu_items"]] == expected
        assert "external_views" not in ours
    assert api_server.request("/dsjobs/static/icon.svg")[0] == 200  # the app is mounted either way


def test_list_pages_without_reading_every_job_and_says_when_the_total_is_a_lower_bound(
    api_server: ApiServer, server_service: JobService
) -> None:
    made = []
    for i in range(3):
        record = JobRecord(id=server_service.jobs.new_job_id(), project="default", name=f"paged-{i}")
        record.set_status(JobStatus.SUCCESS)
        server_service.jobs.create(record)
        made.append(record.id)
    first = api_server.json("/dsjobs/api/jobs?q=paged-&limit=2")
    assert [j["id"] for j in first["jobs"]] == made[:0:-1]
    assert (first["total"], first["total_exact"]) == (3, False)  # at least 3: the listing stopped there
    rest = api_server.json("/dsjobs/api/jobs?q=paged-&limit=2&offset=2")
    assert [j["id"] for j in rest["jobs"]] == made[:1] and (rest["total"], rest["total_exact"]) == (3, True)


def test_a_page_asked_without_login_sends_to_login_and_never_echoes_the_url_as_html(api_server: ApiServer) -> None:
    """3.1+: a redirect to the login page. 3.0 (its UI keeps the login in localStorage): a page whose session.js
    brings the login back as a cookie, with the login URL (it carries the asked URL) escaped into an attribute."""
    hostile = '/dsjobs/?q="><script>alert(1)</script>'
    status, raw_headers, body = api_server.request(hostile, user=None)
    headers = {name.lower(): value for name, value in raw_headers.items()}
    if compat.ui_keeps_session_cookie():
        assert status == 303 and "/login" in headers["location"]
        return
    assert compat.AIRFLOW_VERSION.release[:2] == (3, 0), "Airflow 3.1+ keeps the UI's login in its cookie"
    assert status == 401 and headers["cache-control"] == "no-store"
    assert b"<script>alert" not in body and b'"><script' not in body
    assert b'<script src="/dsjobs/static/session.js"></script>' in body and b'data-path="/dsjobs"' in body
    assert api_server.request("/dsjobs/static/session.js", user=None)[0] == 200
