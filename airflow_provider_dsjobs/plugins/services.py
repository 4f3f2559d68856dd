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
    """Ids of the ``dsjobs`` connections in the metadata database, with the default first (with ``[core]
    multi_team``, those without a team: a team's connection is its tasks' only, see ``usable_connection``)."""
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from airflow_provider_dsjobs.compat import conf

    query = select(Connection.conn_id).where(Connection.conn_type == "dsjobs")
    if conf.getboolean("core", "multi_team", fallback=False):
        query = query.where(Connection.team_name.is_(None))
    with create_session() as session:
        ids = set(session.scalars(query))
    ids.discard(DEFAULT_CONN_ID)
    return [DEFAULT_CONN_ID, *sorted(ids)]


class ConnectionRefused(Exception):
    """``conn_id`` names no ``dsjobs`` connection (its message is one line that echoes only the id)."""


def usable_connection(conn_id: str) -> str | None:
    """The team of the ``dsjobs`` connection ``conn_id`` (``None``: no team, or no multi-team); the default id may
    be absent (the ``DSJOBS_*`` defaults, as in tasks). ``ConnectionRefused`` for a missing id or a connection
    of another type: its extras and password are never read as a dsjobs connection's."""
    from airflow_provider_dsjobs.compat import AirflowNotFoundException, BaseHook, conf

    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        if conn_id == DEFAULT_CONN_ID:
            return None
        raise ConnectionRefused(f"no dsjobs connection {conn_id!r}") from None
    if conn.conn_type != "dsjobs":
        raise ConnectionRefused(f"no dsjobs connection {conn_id!r}")
    if not conf.getboolean("core", "multi_team", fallback=False):
        return None
    from airflow.models.connection import Connection

    # Airflow 3.3 finds a team's connection only for that team's tasks, so this is None today; should a later
    # Airflow hand it out here too, the caller still checks that the user is in its team.
    return Connection.get_team_name(conn_id)
