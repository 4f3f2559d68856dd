"""The HTML pages: the jobs list at ``/dsjobs/`` and a job at ``/dsjobs/jobs/<id>``, rendered on the server from
the same response models the JSON API returns; a little script (``static/dsjobs.js``) streams the log, runs the
actions and follows Airflow's light/dark theme."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from airflow_provider_dsjobs.documents.record import JobStatus
from airflow_provider_dsjobs.documents.sizes import human_size
from airflow_provider_dsjobs.plugins import api, views
from airflow_provider_dsjobs.plugins.auth import AccessDep
from airflow_provider_dsjobs.plugins.services import DEFAULT_CONN_ID, dsjobs_conn_ids

router = APIRouter()
_env = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")), autoescape=select_autoescape(default=True)
)
_PAGE = 50


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{seconds:.1f}s" if seconds < 10 else f"{secs}s"


_env.filters["size"] = human_size
_env.filters["duration"] = _duration


def _conn_ids(current: str) -> list[str]:
    try:
        ids = dsjobs_conn_ids()
    except Exception:  # the metadata database is not where connections come from here: offer the current one
        ids = [DEFAULT_CONN_ID]
    return ids if current in ids else [*ids, current]


def _render(request: Request, template: str, **context: Any) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    conn_id = context.get("conn_id", DEFAULT_CONN_ID)
    html = _env.get_template(template).render(
        root=root, conn_ids=_conn_ids(conn_id), statuses=[s.value for s in JobStatus], **context
    )
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def jobs_page(
    request: Request,
    access: AccessDep,
    conn_id: api.ConnId = DEFAULT_CONN_ID,
    status_: Annotated[str, Query(alias="status", max_length=200)] = "",
    q: Annotated[str, Query(max_length=200)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    query = api.make_query([status_] if status_ else [], q, (page - 1) * _PAGE, _PAGE)
    listing = api.list_visible(api.job_service(conn_id), access, query, conn_id)

    def page_url(number: int) -> str:
        return "?" + urlencode({"conn_id": conn_id, "status": status_, "q": q, "page": number})

    pages = max(1, -(-listing.total // _PAGE))
    return _render(
        request,
        "jobs.html",
        title="Jobs",
        listing=listing,
        conn_id=conn_id,
        status=status_,
        q=q,
        page=page,
        pages=pages,
        prev_url=page_url(page - 1) if page > 1 else None,
        next_url=page_url(page + 1) if page < pages else None,
        active=any(not JobStatus(j.status).terminal for j in listing.jobs),
    )


@router.get("/jobs/{job_id}", response_class=HTMLResponse, include_in_schema=False)
def job_page(request: Request, job_id: str, access: AccessDep, conn_id: api.ConnId = DEFAULT_CONN_ID) -> HTMLResponse:
    service = api.job_service(conn_id)
    record = api.load_visible(service, access, job_id)  # as stored: a page read never finalizes
    job: views.JobDetail = api.job_detail(request, service, access, record, conn_id)
    return _render(
        request,
        "job.html",
        title=job.name or job.id,
        job=job,
        conn_id=conn_id,
        active=not record.status.terminal,
        airflow_task_url=_task_url(job),
    )


def _task_url(job: views.JobDetail) -> str | None:
    """The Airflow UI's page of the task instance that launched the job."""
    by = job.launched_by
    if by is None or not by.run_id or not by.task_id:
        return None
    from urllib.parse import quote

    url = f"/dags/{quote(by.dag_id)}/runs/{quote(by.run_id)}/tasks/{quote(by.task_id)}"
    if by.map_index is not None and by.map_index >= 0:
        url += f"/mapped/{by.map_index}"
    return url
