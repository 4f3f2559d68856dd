"""Which job service answers a request: the ``JobService`` of the chosen ``dsjobs`` connection.

Services are built through the provider's own hook (connection extras over ``DSJOBS_*`` variables over the
embedded defaults, exactly as tasks see them) and kept for a minute, so a changed connection is picked up
without restarting the api-server while a page's polling does not rebuild them every second.
"""

from __future__ import annotations

import threading
import time

from airflow_provider_dsjobs.jobs.service import JobService

DEFAULT_CONN_ID = "dsjobs_default"
_KEEP_SECONDS = 60.0
_lock = threading.Lock()
_services: dict[str, tuple[float, JobService]] = {}


def service_for(conn_id: str) -> JobService:
    """The service of connection ``conn_id`` (a missing connection means the defaults, as in tasks)."""
    from airflow_provider_dsjobs.hooks.dsjobs import DataSphereJobsHook

    now = time.monotonic()
    with _lock:
        cached = _services.get(conn_id)
        if cached is not None and now - cached[0] < _KEEP_SECONDS:
            return cached[1]
    service = DataSphereJobsHook(dsjobs_conn_id=conn_id).get_conn()
    with _lock:
        old = _services.get(conn_id)
        _services[conn_id] = (now, service)
    if old is not None and old[1] is not service:
        old[1].close()
    return service


def dsjobs_conn_ids() -> list[str]:
    """Ids of the ``dsjobs`` connections in the metadata database, with the default first."""
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        ids = set(session.scalars(select(Connection.conn_id).where(Connection.conn_type == "dsjobs")))
    ids.discard(DEFAULT_CONN_ID)
    return [DEFAULT_CONN_ID, *sorted(ids)]
