"""With ``[core] multi_team`` on (a real multi-team api-server, simple auth manager): a user sees, cancels and
clears only the jobs of their own team's DAGs, and uses only the dsjobs connections of their team."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from airflow_provider_dsjobs import compat
from airflow_provider_dsjobs.documents.record import JobRecord
from airflow_provider_dsjobs.jobs.service import JobService
from tests.airflow.plugins.helpers import ApiServer, run_echo

pytestmark = [pytest.mark.airflow, pytest.mark.docker]


@pytest.fixture(scope="session", autouse=True)
def release_with_teams() -> None:
    """Teams exist from Airflow 3.2: before, these tests cannot apply (there is no multi-team server to start) and
    say so; from 3.2 a release that is not detected as having teams fails here instead of skipping."""
    if compat.teams():
        return
    assert compat.AIRFLOW_VERSION.release[:2] < (3, 2), "Airflow 3.2+ has teams: compat.teams() must detect them"
    pytest.skip(f"Airflow {compat.AIRFLOW_VERSION} has no teams (3.2+); test_compat checks the no-team questions")


@pytest.fixture(scope="module")
def team_service(teams_server: ApiServer) -> Iterator[JobService]:
    service = JobService(teams_server.settings())
    yield service
    for record in service.list_jobs():
        if not record.status.terminal:
            with contextlib.suppress(Exception):  # best-effort cleanup of this module's containers
                service.cancel(record.id, graceful=False)
    service.close()


@pytest.fixture(scope="module")
def team_jobs(team_service: JobService) -> dict[str, JobRecord]:
    """A finished job of each team's DAG, a running one of team_b's, and one started outside Airflow."""
    return {
        "a": run_echo(team_service, dag_id="dag_team_a"),
        "b": run_echo(team_service, dag_id="dag_team_b"),
        "b_running": run_echo(team_service, wait=False, dag_id="dag_team_b", SLEEP="5", LINES="100"),
        "cli": run_echo(team_service),
    }


def _ids(server: ApiServer, user: str, query: str = "") -> set[str]:
    return {j["id"] for j in server.json(f"/dsjobs/api/jobs?limit=500{query}", user=user)["jobs"]}


def test_each_team_sees_only_its_dags_jobs(teams_server: ApiServer, team_jobs: dict[str, JobRecord]) -> None:
    a, b, running, cli = (team_jobs[k].id for k in ("a", "b", "b_running", "cli"))
    assert _ids(teams_server, "alice") == {a}
    assert _ids(teams_server, "bob") == {b, running}
    assert {a, b, running, cli} <= _ids(teams_server, "admin")
    for path in (f"/dsjobs/api/jobs/{b}", f"/dsjobs/api/jobs/{b}/logs", f"/dsjobs/jobs/{b}"):
        status, _, body = teams_server.request(path, user="alice")
        assert status == 404 and b"hello from the plugin job" not in body, (path, status)
    assert teams_server.json(f"/dsjobs/api/jobs/{a}", user="alice")["can_change_data"] is True
    assert teams_server.json(f"/dsjobs/api/jobs/{b}", user="bob")["launched_by"]["dag_id"] == "dag_team_b"


def test_another_teams_job_cannot_be_cancelled_or_cleared(
    teams_server: ApiServer, team_jobs: dict[str, JobRecord], team_service: JobService
) -> None:
    running, b = team_jobs["b_running"].id, team_jobs["b"].id
    for path, body in (
        (f"/dsjobs/api/jobs/{running}/cancel", {"graceful": False}),
        (f"/dsjobs/api/jobs/{b}/clear", {}),
        (f"/dsjobs/api/jobs/{b}/data-ttl", {"days": 1}),
    ):
        status, _, _ = teams_server.request(path, user="alice", method="POST", body=body)
        assert status == 404, (path, status)
    assert not team_service.read(running).status.terminal and not team_service.read(b).data_cleared
    status, _, _ = teams_server.request(f"/dsjobs/api/jobs/{running}/cancel", user="bob", method="POST", body={})
    assert status == 202


def test_a_teams_connection_is_not_read_by_the_page(teams_server: ApiServer, team_jobs: dict[str, JobRecord]) -> None:
    """Airflow 3.3 gives a team's connection only to that team's tasks: the page (outside any task) refuses it to
    everyone, so no member of another team can list jobs through it. Connections without a team serve all."""
    for user in ("alice", "bob", "admin"):
        for path in ("/dsjobs/api/jobs?conn_id=dsjobs_team_a", "/dsjobs/?conn_id=dsjobs_team_a"):
            status, _, body = teams_server.request(path, user=user)
            assert status == 404 and b"no dsjobs connection 'dsjobs_team_a'" in body, (user, path, status)
    assert team_jobs["a"].id in _ids(teams_server, "alice", "&conn_id=dsjobs_default")
    status, _, page = teams_server.request("/dsjobs/", user="alice")  # nor offered in the connection selector
    assert status == 200 and b"dsjobs_default" in page and b"dsjobs_team_a" not in page
