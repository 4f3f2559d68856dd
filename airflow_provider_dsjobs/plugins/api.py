"""The JSON API under ``/dsjobs/api`` that backs the pages: jobs, one job, its log, its output files, and the
actions (cancel, data TTL, clear). Logs and downloads stream in bounded memory; reading changes nothing."""

from __future__ import annotations

import contextlib
import json
import posixpath
from collections.abc import Iterator
from typing import Annotated, BinaryIO
from urllib.parse import quote

from fastapi import APIRouter, BackgroundTasks, Body, HTTPException, Query, Request, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from airflow_provider_dsjobs.jobs.errors import JobError, one_line
from airflow_provider_dsjobs.jobs.query import JobQuery, parse_statuses
from airflow_provider_dsjobs.jobs.record import JobRecord
from airflow_provider_dsjobs.jobs.service import JobService
from airflow_provider_dsjobs.jobs.store import JobNotFound
from airflow_provider_dsjobs.plugins import views
from airflow_provider_dsjobs.plugins.auth import Access, AccessDep
from airflow_provider_dsjobs.plugins.services import DEFAULT_CONN_ID, service_for

router = APIRouter(prefix="/api")
ConnId = Annotated[str, Query(min_length=1, max_length=250, description="a dsjobs connection id")]
_CHUNK = 256 * 1024


def job_service(conn_id: str) -> JobService:
    try:
        return service_for(conn_id)
    except Exception as exc:  # a connection that cannot be turned into settings: say why, in one line
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"connection {conn_id!r}: {one_line(exc)}") from None


def load_visible(service: JobService, access: Access, job_id: str) -> JobRecord:
    """The job's record, or 404 when it does not exist or the user may not see it."""
    try:
        record = service.read(job_id)
    except JobNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except JobError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from None
    access.require_view(record)
    return record


def settled(service: JobService, record: JobRecord) -> JobRecord:
    """An active job as it is now: one whose container exited is finalized (its outputs and log stored) the way
    ``dsjobs get`` does, so a job nobody waits for (``dsjobs execute --async``) still ends on its page."""
    if record.status.terminal:
        return record
    try:
        return service.get(record.id)
    except JobError:
        return record  # the engine cannot be asked right now: show what the store says


def list_visible(service: JobService, access: Access, query: JobQuery, conn_id: str) -> views.JobList:
    try:
        page = service.query_jobs(query, visible=access.can_view)
    except JobError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from None
    summaries = [views.summary(r) for r in page.jobs]
    return views.JobList(
        conn_id=conn_id,
        project=service.project,
        total=page.total,
        total_exact=page.exact,
        offset=query.offset,
        jobs=summaries,
    )


def make_query(status_: list[str], q: str | None, offset: int, limit: int) -> JobQuery:
    try:
        return JobQuery(statuses=parse_statuses(status_), text=(q or "").strip() or None, offset=offset, limit=limit)
    except ValueError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None


def job_detail(
    request: Request, service: JobService, access: Access, record: JobRecord, conn_id: str
) -> views.JobDetail:
    try:
        files = service.output_files(record.id)
    except JobError:
        files = []  # outputs that cannot be listed right now do not hide the rest of the job
    return views.detail(
        record,
        files,
        root=request.scope.get("root_path", ""),
        conn_id=conn_id,
        can_cancel=access.can_act(record, "POST"),
        can_change=access.can_act(record, "PUT"),
    )


@router.get("/jobs", response_model=views.JobList)
def list_jobs(
    access: AccessDep,
    conn_id: ConnId = DEFAULT_CONN_ID,
    status_: Annotated[list[str], Query(alias="status")] = [],  # noqa: B006 - FastAPI copies defaults
    q: Annotated[str | None, Query(max_length=200)] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> views.JobList:
    return list_visible(job_service(conn_id), access, make_query(status_, q, offset, limit), conn_id)


@router.get("/jobs/{job_id}", response_model=views.JobDetail)
def get_job(request: Request, job_id: str, access: AccessDep, conn_id: ConnId = DEFAULT_CONN_ID) -> views.JobDetail:
    service = job_service(conn_id)
    record = settled(service, load_visible(service, access, job_id))
    return job_detail(request, service, access, record, conn_id)


def _ndjson(pairs: Iterator[tuple[str, str]]) -> Iterator[bytes]:
    try:
        for stream, line in pairs:
            yield (json.dumps({"stream": stream, "line": line}, ensure_ascii=False) + "\n").encode("utf-8")
    except JobError as exc:
        yield (json.dumps({"stream": "system", "line": f"log read failed: {exc}", "error": True}) + "\n").encode()


@router.get("/jobs/{job_id}/logs")
def job_logs(
    job_id: str,
    access: AccessDep,
    conn_id: ConnId = DEFAULT_CONN_ID,
    tail: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
    follow: bool = False,
) -> StreamingResponse:
    """The log as NDJSON, one ``{"stream", "line"}`` object a line; ``follow`` keeps a running job's log coming
    until its container stops."""
    service = job_service(conn_id)
    record = load_visible(service, access, job_id)
    if record.data_cleared:
        raise HTTPException(status.HTTP_410_GONE, f"job {job_id} data is cleared")
    try:
        pairs = service.logs(job_id, tail=tail, follow=follow)
    except JobError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from None
    return StreamingResponse(
        _ndjson(pairs),
        media_type="application/x-ndjson",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _chunks(reader: BinaryIO) -> Iterator[bytes]:
    with reader:
        while chunk := reader.read(_CHUNK):
            yield chunk


@router.get("/jobs/{job_id}/outputs/{path:path}")
def download_output(job_id: str, path: str, access: AccessDep, conn_id: ConnId = DEFAULT_CONN_ID) -> StreamingResponse:
    service = job_service(conn_id)
    load_visible(service, access, job_id)
    try:
        item, reader = service.open_output(job_id, path)
    except JobError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    name = posixpath.basename(item.path)
    headers = {
        "Content-Length": str(item.size),
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
        "X-Content-Type-Options": "nosniff",
    }
    return StreamingResponse(_chunks(reader), media_type="application/octet-stream", headers=headers)


# -- actions ---------------------------------------------------------------------------------------------------


def _require_json(request: Request) -> None:
    """Actions accept only JSON bodies: a cross-site form cannot send one without a CORS preflight, so a page
    elsewhere cannot make a logged-in browser act (the session is a cookie)."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "send the action as application/json")


def _cancel(service: JobService, job_id: str, graceful: bool) -> None:
    with contextlib.suppress(JobError):  # the record says what happened; the page shows it
        service.cancel(job_id, graceful=graceful)


@router.post("/jobs/{job_id}/cancel", status_code=status.HTTP_202_ACCEPTED, response_model=views.JobSummary)
def cancel_job(
    request: Request,
    job_id: str,
    access: AccessDep,
    background: BackgroundTasks,
    conn_id: ConnId = DEFAULT_CONN_ID,
    graceful: Annotated[bool, Body(embed=True)] = True,
) -> views.JobSummary:
    """Start cancelling; a graceful cancel may take the config's ``graceful-shutdown`` timeout, so it goes on
    after the answer (the record says CANCELLING, then CANCELLED)."""
    _require_json(request)
    service = job_service(conn_id)
    record = load_visible(service, access, job_id)
    access.require_act(record, "POST")
    if record.status.terminal:
        raise HTTPException(status.HTTP_409_CONFLICT, f"job {job_id} already ended {record.status.value}")
    background.add_task(_cancel, service, job_id, graceful)
    return views.summary(record)


class TtlBody(BaseModel):
    days: Annotated[int | None, Field(ge=1, le=36500, description="null: keep forever")]


@router.post("/jobs/{job_id}/data-ttl", response_model=views.JobSummary)
def set_data_ttl(
    request: Request,
    job_id: str,
    access: AccessDep,
    body: TtlBody,
    conn_id: ConnId = DEFAULT_CONN_ID,
) -> views.JobSummary:
    """Keep the job's data ``days`` more days from now (``null``: forever)."""
    _require_json(request)
    service = job_service(conn_id)
    access.require_act(load_visible(service, access, job_id), "PUT")
    try:
        return views.summary(service.set_data_ttl(job_id, body.days))
    except JobError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None


@router.post("/jobs/{job_id}/clear", response_model=views.JobSummary)
def clear_data(request: Request, job_id: str, access: AccessDep, conn_id: ConnId = DEFAULT_CONN_ID) -> views.JobSummary:
    """Delete a finished job's stored data now (``dsjobs clear --id``): the record stays, marked cleared."""
    _require_json(request)
    service = job_service(conn_id)
    access.require_act(load_visible(service, access, job_id), "DELETE")
    try:
        service.clear(job_id)
    except JobError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    return views.summary(service.read(job_id))
