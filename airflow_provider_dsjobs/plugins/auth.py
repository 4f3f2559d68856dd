"""Who may see and act on jobs, decided by Airflow's auth manager like the rest of the UI.

Airflow does not authenticate plugin apps: every route here depends on ``current_user`` (the same JWT, from
the ``Authorization`` header or the UI's session cookie, that the core API accepts; with
``simple_auth_manager_all_admins`` the auth manager's middleware supplies one, so no login is needed).

- Choosing a connection (``conn_id``): it must be a ``dsjobs`` connection (``dsjobs_default`` may be absent: the
  embedded defaults), and with ``[core] multi_team`` one of a team the user belongs to when it has a team.
- Seeing jobs: the custom view ``DataSphere Jobs`` (``GET``), and for a job a DAG launched, read access to
  that DAG's task logs (a job's log is its task's log), asked with the DAG's team. A job started outside
  Airflow (the ``dsjobs`` CLI: no DAG) needs read access to the connection itself (:data:`CLI_JOBS_PERMISSION`).
- Acting on a job (cancel, data TTL, clear): the custom view with the action's method, and edit access to the
  task instances of the DAG that launched it (of any DAG, for a job started outside Airflow).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Request, status

from airflow_provider_dsjobs.documents.record import JobRecord
from airflow_provider_dsjobs.plugins.services import DEFAULT_CONN_ID, ConnectionRefused, usable_connection

RESOURCE_NAME = "DataSphere Jobs"
DAG_LABEL = "airflow.dag_id"
#: Who sees jobs started outside Airflow: whoever may read the dsjobs connection they were listed through.
CLI_JOBS_PERMISSION = "GET on the dsjobs connection (is_authorized_connection)"
ConnId = Annotated[str, Query(min_length=1, max_length=250, description="a dsjobs connection id")]


async def current_user(request: Request) -> Any:
    """The logged-in user; 401 without a valid token (pages turn that into a redirect to the login page)."""
    from airflow_provider_dsjobs.compat import request_user

    return await request_user(request)


def _auth_manager() -> Any:
    from airflow.api_fastapi.app import get_auth_manager

    return get_auth_manager()


def _dag_allowed(user: Any, dag_id: str | None, method: str) -> bool:
    """Asked with the team of the DAG's bundle where Airflow has teams, as Airflow's own API asks."""
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity

    from airflow_provider_dsjobs.compat import dag_details

    entity = DagAccessEntity.TASK_LOGS if method == "GET" else DagAccessEntity.TASK_INSTANCE
    details = dag_details(dag_id) if dag_id else None
    return bool(_auth_manager().is_authorized_dag(method=method, access_entity=entity, details=details, user=user))


def _connection_readable(user: Any, conn_id: str, team: str | None) -> bool:
    from airflow_provider_dsjobs.compat import connection_details

    details = connection_details(conn_id, team)
    return bool(_auth_manager().is_authorized_connection(method="GET", details=details, user=user))


def _in_team(user: Any, team: str) -> bool:
    from airflow.api_fastapi.auth.managers.models.resource_details import TeamDetails

    try:
        return bool(_auth_manager().is_authorized_team(method="GET", details=TeamDetails(name=team), user=user))
    except NotImplementedError:  # an auth manager that does not know teams
        return False


class Access:
    """One request's user, the connection it reads jobs through, and what the auth manager lets them do (answers
    remembered per request)."""

    def __init__(self, user: Any, conn_id: str = DEFAULT_CONN_ID, conn_team: str | None = None) -> None:
        self.user = user
        self.conn_id = conn_id
        self.conn_team = conn_team
        self._dags: dict[tuple[str | None, str], bool] = {}
        self._cli: bool | None = None

    def _dag(self, dag_id: str | None, method: str) -> bool:
        key = (dag_id, method)
        if key not in self._dags:
            self._dags[key] = _dag_allowed(self.user, dag_id, method)
        return self._dags[key]

    def can_see_cli_jobs(self) -> bool:
        """:data:`CLI_JOBS_PERMISSION`: read access to this request's dsjobs connection (with its team)."""
        if self._cli is None:
            self._cli = _connection_readable(self.user, self.conn_id, self.conn_team)
        return self._cli

    def can_view(self, record: JobRecord) -> bool:
        dag_id = record.labels.get(DAG_LABEL)
        if dag_id is None:
            return self.can_see_cli_jobs()
        return self._dag(dag_id, "GET")

    def can_act(self, record: JobRecord, method: str) -> bool:
        manager = _auth_manager()
        if not manager.is_authorized_custom_view(method=method, resource_name=RESOURCE_NAME, user=self.user):
            return False
        return self.can_view(record) and self._dag(record.labels.get(DAG_LABEL), "PUT")

    def require_view(self, record: JobRecord) -> None:
        if not self.can_view(record):
            # The same answer as for a job that does not exist: no hint that it does.
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"job {record.id} not found")

    def require_act(self, record: JobRecord, method: str) -> None:
        if not self.can_act(record, method):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"not allowed to change job {record.id}")


def _connection_team(user: Any, conn_id: str) -> str | None:
    """The team of ``conn_id`` once it is known to be a dsjobs connection this user may use (404 otherwise)."""
    try:
        team = usable_connection(conn_id)
    except ConnectionRefused as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    if team is not None and not _in_team(user, team):
        # The same line as for a connection that does not exist: no hint that it does.
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no dsjobs connection {conn_id!r}")
    return team


def viewer_access(user: Annotated[Any, Depends(current_user)], conn_id: ConnId = DEFAULT_CONN_ID) -> Access:
    """A logged-in user allowed to see the Jobs page (403 otherwise) through a dsjobs connection they may use
    (404 otherwise)."""
    if not _auth_manager().is_authorized_custom_view(method="GET", resource_name=RESOURCE_NAME, user=user):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "not allowed to see DataSphere jobs")
    return Access(user, conn_id, _connection_team(user, conn_id))


AccessDep = Annotated[Access, Depends(viewer_access)]
