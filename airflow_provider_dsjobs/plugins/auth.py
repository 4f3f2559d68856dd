"""Who may see and act on jobs, decided by Airflow's auth manager like the rest of the UI.

Airflow does not authenticate plugin apps: every route here depends on ``current_user`` (the same JWT, from
the ``Authorization`` header or the UI's session cookie, that the core API accepts; with
``simple_auth_manager_all_admins`` the auth manager's middleware supplies one, so no login is needed).

- Seeing jobs: the custom view ``DataSphere Jobs`` (``GET``), and for a job a DAG launched, read access to
  that DAG's task logs (a job's log is its task's log).
- Acting on a job (cancel, data TTL, clear): the custom view with the action's method, and edit access to the
  task instances of the DAG that launched it (of any DAG, for a job started outside Airflow).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status

from airflow_provider_dsjobs.jobs.record import JobRecord

RESOURCE_NAME = "DataSphere Jobs"
DAG_LABEL = "airflow.dag_id"


async def current_user(request: Request) -> Any:
    """The logged-in user; 401 without a valid token (pages turn that into a redirect to the login page)."""
    from airflow.api_fastapi.core_api.security import bearer_scheme, get_user

    return await get_user(request, None, await bearer_scheme(request))


def _auth_manager() -> Any:
    from airflow.api_fastapi.app import get_auth_manager

    return get_auth_manager()


def _dag_allowed(user: Any, dag_id: str | None, method: str) -> bool:
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails

    entity = DagAccessEntity.TASK_LOGS if method == "GET" else DagAccessEntity.TASK_INSTANCE
    details = DagDetails(id=dag_id) if dag_id else None
    return bool(_auth_manager().is_authorized_dag(method=method, access_entity=entity, details=details, user=user))


class Access:
    """One request's user and what the auth manager lets them do (DAG answers remembered per request)."""

    def __init__(self, user: Any) -> None:
        self.user = user
        self._dags: dict[tuple[str | None, str], bool] = {}

    def _dag(self, dag_id: str | None, method: str) -> bool:
        key = (dag_id, method)
        if key not in self._dags:
            self._dags[key] = _dag_allowed(self.user, dag_id, method)
        return self._dags[key]

    def can_view(self, record: JobRecord) -> bool:
        dag_id = record.labels.get(DAG_LABEL)
        return dag_id is None or self._dag(dag_id, "GET")

    def can_act(self, record: JobRecord, method: str) -> bool:
        manager = _auth_manager()
        if not manager.is_authorized_custom_view(method=method, resource_name=RESOURCE_NAME, user=self.user):
            return False
        return self._dag(record.labels.get(DAG_LABEL), "PUT")

    def require_view(self, record: JobRecord) -> None:
        if not self.can_view(record):
            # The same answer as for a job that does not exist: no hint that it does.
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"job {record.id} not found")

    def require_act(self, record: JobRecord, method: str) -> None:
        if not self.can_act(record, method):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"not allowed to change job {record.id}")


async def viewer_access(user: Annotated[Any, Depends(current_user)]) -> Access:
    """A logged-in user allowed to see the Jobs page (403 otherwise)."""
    if not _auth_manager().is_authorized_custom_view(method="GET", resource_name=RESOURCE_NAME, user=user):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "not allowed to see DataSphere jobs")
    return Access(user)


AccessDep = Annotated[Access, Depends(viewer_access)]
