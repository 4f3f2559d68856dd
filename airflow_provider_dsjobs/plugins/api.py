"""The JSON API under ``/dsjobs/api`` that backs the pages: jobs, one job, its log, its output files, and the
actions (cancel, data TTL, clear). Logs and downloads stream in bounded memory, off the api-server's shared
threads (``plugins/streams.py``); reading changes nothing (no GET finalizes a job); a cancel only asks."""

from __future__ import annotations

import json
import posixpath
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Annotated, BinaryIO, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, Body, HTTPException, Query, Request, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from airflow_provider_dsjobs.documents.record import JobRecord, JobStatus
from airflow_provider_dsjobs.jobs.errors import JobError
from airflow_provider_dsjobs.jobs.output_files import OutputFile
from airflow_provider_dsjobs.jobs.progress import Progress
from airflow_provider_dsjobs.jobs.query import JobQuery, parse_statuses
from airflow_provider_dsjobs.jobs.service import JobService
from airflow_provider_dsjobs.jobs.store import JobNotFound
from airflow_provider_dsjobs.plugins import streams, views
from airflow_provider_dsjobs.plugins.auth import Access, AccessDep, ConnId
from airflow_provider_dsjobs.plugins.chart import stats_chart
from airflow_provider_dsjobs.plugins.errors import addresses, scrub, shown
from airflow_provider_dsjobs.plugins.masking import Mask, SecretsUnavailable, fact_cleaner, masker_for
from airflow_provider_dsjobs.plugins.services import DEFAULT_CONN_ID, service_for

T = TypeVar("T")
router = APIRouter(prefix="/api")
__all__ = ["ConnId", "router"]
_CHUNK = 256 * 1024
#: The most log lines one request may ask for with ``tail`` (the page keeps 20 000).
MAX_TAIL = 20_000
#: The most ``status`` values one listing may name (there are 9 statuses).
MAX_STATUS_PARAMS = 20


def job_service(conn_id: str) -> JobService:
    try:
        return service_for(conn_id)
    except Exception as exc:  # a connection that cannot be turned into settings: say why, in one line
        detail = shown(exc, f"connection {conn_id!r}")
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"connection {conn_id!r}: {detail}") from None


def _error(service: JobService, exc: BaseException, what: str) -> str:
    """What a viewer is told about ``exc`` (no store URI, engine address or path; the detail is logged)."""
    return shown(exc, what, addresses(service.settings))


def summary(service: JobService, record: JobRecord) -> views.JobSummary:
    """One job's summary as a viewer reads it (its messages masked: they may quote the job's output)."""
    progress = _progress(service, record)
    quotes_output = record.status_details or (progress is not None and progress.message)
    return views.summary(record, fact_cleaner(service, record) if quotes_output else views.keep, progress)


def _progress(service: JobService, record: JobRecord) -> Progress | None:
    try:
        return service.progress_of(record)
    except JobError:
        return None  # progress is a hint: a store that cannot say hides it, never the job


def load_visible(service: JobService, access: Access, job_id: str) -> JobRecord:
    """The job's record, or 404 when it does not exist or the user may not see it."""
    try:
        record = service.read(job_id)
    except JobNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, scrub(str(exc), addresses(service.settings))) from None
    except JobError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, _error(service, exc, f"job {job_id}")) from None
    access.require_view(record)
    return record


def list_visible(service: JobService, access: Access, query: JobQuery, conn_id: str) -> views.JobList:
    try:
        page = service.query_jobs(query, visible=access.can_view)
    except JobError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, _error(service, exc, "listing jobs")) from None
    progress = [_progress(service, r) for r in page.jobs]
    quotes_output = any(r.status_details for r in page.jobs) or any(p is not None and p.message for p in progress)
    clean = fact_cleaner(service) if quotes_output else views.keep
    summaries = [views.summary(r, clean, p) for r, p in zip(page.jobs, progress, strict=True)]
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


def container_exited(service: JobService, record: JobRecord) -> int | None:
    """The exit code of an active job whose container has stopped (it is not finalized yet: its follower or
    ``dsjobs get`` does that, never a page read); None otherwise, or when the engine cannot say."""
    try:
        state = service.container_state(record)
    except JobError:
        return None
    if state is None or not state.finished:
        return None
    return state.exit_code if state.exit_code is not None else -1


def job_detail(
    request: Request, service: JobService, access: Access, record: JobRecord, conn_id: str
) -> views.JobDetail:
    try:
        files = service.output_files(record.id)
    except JobError:
        files = []  # outputs that cannot be listed right now do not hide the rest of the job
    progress = _progress(service, record)
    quotes_output = record.status_details or any(m.error for m in record.s3_sync) or (progress and progress.message)
    try:
        chart = stats_chart(service.stats_points(record.id))
    except JobError:
        chart = None
    return views.detail(
        record,
        files,
        exited=container_exited(service, record),
        root=request.scope.get("root_path", ""),
        conn_id=conn_id,
        can_cancel=access.can_act(record, "POST"),
        can_change=access.can_act(record, "PUT"),
        clean=fact_cleaner(service, record) if quotes_output else views.keep,
        progress=progress,
        stats=chart,
    )


@router.get("/jobs", response_model=views.JobList)
def list_jobs(
    access: AccessDep,
    conn_id: ConnId = DEFAULT_CONN_ID,
    status_: Annotated[list[str], Query(alias="status", max_length=MAX_STATUS_PARAMS)] = [],  # noqa: B006 - FastAPI copies defaults
    q: Annotated[str | None, Query(max_length=200)] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> views.JobList:
    return list_visible(job_service(conn_id), access, make_query(status_, q, offset, limit), conn_id)


@router.get("/jobs/{job_id}", response_model=views.JobDetail)
def get_job(request: Request, job_id: str, access: AccessDep, conn_id: ConnId = DEFAULT_CONN_ID) -> views.JobDetail:
    service = job_service(conn_id)
    return job_detail(request, service, access, load_visible(service, access, job_id), conn_id)


async def _ndjson(pairs: AsyncIterator[tuple[str, str]], service: JobService, mask: Mask) -> AsyncIterator[bytes]:
    """The log as NDJSON, every line masked: the job's secrets never reach the page."""
    try:
        async for stream, line in pairs:
            yield (json.dumps({"stream": stream, "line": mask(line)}, ensure_ascii=False) + "\n").encode("utf-8")
    except JobError as exc:
        failed = f"log read failed: {_error(service, exc, 'reading a log')}"
        yield (json.dumps({"stream": "system", "line": failed, "error": True}) + "\n").encode()


def _too_many_follows(cap: int) -> HTTPException:
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS,
        f"this api-server already streams {cap} live logs (DSJOBS_MAX_LOG_FOLLOWS): try again in a few seconds",
        headers={"Retry-After": "5"},
    )


@router.get("/jobs/{job_id}/logs")
async def job_logs(
    request: Request,
    job_id: str,
    access: AccessDep,
    conn_id: ConnId = DEFAULT_CONN_ID,
    tail: Annotated[int | None, Query(ge=1, le=MAX_TAIL)] = None,
    follow: bool = False,
) -> StreamingResponse:
    """The log as NDJSON, one ``{"stream", "line"}`` object a line; ``follow`` keeps a running job's log coming
    until its container stops or ``follow_seconds()`` pass (reconnect then), at most ``max_follows()`` at once
    per api-server (429 beyond). Nothing here holds one of the api-server's shared threads."""
    release = None
    if follow:
        cap = streams.max_follows()
        release = streams.SLOTS.take(cap)
        if release is None:
            raise _too_many_follows(cap)
    try:
        service, record, mask = await _off_pool(partial(_log_source, conn_id, access, job_id))
    except BaseException:
        if release is not None:
            release()
        raise
    pairs = streams.log_pairs(service, record, request, tail=tail, follow=follow)
    lines = _ndjson(pairs, service, mask)
    body = lines if release is None else streams.hold(lines, release)
    return StreamingResponse(
        body, media_type="application/x-ndjson", headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )


async def _off_pool(func: Callable[[], T]) -> T:
    """``func()`` off the shared threads; a store or engine that does not answer in time is a 503."""
    try:
        return await streams.off_pool(func)
    except streams.StreamTimeout as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from None


def _log_source(conn_id: str, access: Access, job_id: str) -> tuple[JobService, JobRecord, Mask]:
    """The job and the mask of its secrets (resolved here, off the shared threads); 503 when they cannot be read,
    rather than a log shown unmasked."""
    service = job_service(conn_id)
    record = load_visible(service, access, job_id)
    if record.data_cleared:
        raise HTTPException(status.HTTP_410_GONE, f"job {job_id} data is cleared")
    try:
        return service, record, masker_for(service, record)
    except SecretsUnavailable as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from None


@router.get("/jobs/{job_id}/outputs/{path:path}")
async def download_output(
    job_id: str, path: str, access: AccessDep, conn_id: ConnId = DEFAULT_CONN_ID
) -> StreamingResponse:
    item, reader = await _off_pool(partial(_open_output, conn_id, access, job_id, path))
    name = posixpath.basename(item.path)
    headers = {
        "Content-Length": str(item.size),
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
        "X-Content-Type-Options": "nosniff",
    }
    return StreamingResponse(_chunks(reader), media_type="application/octet-stream", headers=headers)


def _open_output(conn_id: str, access: Access, job_id: str, path: str) -> tuple[OutputFile, BinaryIO]:
    service = job_service(conn_id)
    load_visible(service, access, job_id)
    try:
        return service.open_output(job_id, path)
    except JobError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, _error(service, exc, f"output of {job_id}")) from None


async def _chunks(reader: BinaryIO) -> AsyncIterator[bytes]:
    """The file in ``_CHUNK`` pieces, each read bounded (``streams.off_pool``); a read that stalls ends the
    download short (the client sees fewer bytes than ``Content-Length``)."""
    try:
        while chunk := await streams.off_pool(partial(reader.read, _CHUNK)):
            yield chunk
    finally:
        reader.close()


# -- actions ---------------------------------------------------------------------------------------------------


def _require_json(request: Request) -> None:
    """Actions accept only JSON bodies: a cross-site form cannot send one without a CORS preflight, so a page
    elsewhere cannot make a logged-in browser act (the session is a cookie)."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "send the action as application/json")


@router.post("/jobs/{job_id}/cancel", status_code=status.HTTP_202_ACCEPTED, response_model=views.JobSummary)
def cancel_job(
    request: Request,
    job_id: str,
    access: AccessDep,
    conn_id: ConnId = DEFAULT_CONN_ID,
    graceful: Annotated[bool, Body(embed=True)] = True,
) -> views.JobSummary:
    """Ask the job to stop and answer at once: CANCELLING is saved and the signal sent (the graceful-shutdown one,
    else SIGKILL); the job's follower (its task, ``dsjobs get``/``attach``) kills it once its graceful timeout has
    passed, stages out and ends it CANCELLED. Asking again while it is CANCELLING changes nothing."""
    _require_json(request)
    service = job_service(conn_id)
    record = load_visible(service, access, job_id)
    access.require_act(record, "POST")
    if record.status.terminal:
        raise HTTPException(status.HTTP_409_CONFLICT, f"job {job_id} already ended {record.status.value}")
    if record.status == JobStatus.CANCELLING:
        return summary(service, record)  # one signal per cancel, however often it is asked for
    try:
        return summary(service, service.request_cancel(job_id, graceful=graceful))
    except JobError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, _error(service, exc, f"cancelling {job_id}")) from None


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
        return summary(service, service.set_data_ttl(job_id, body.days))
    except JobError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, _error(service, exc, f"data TTL of {job_id}")) from None


@router.post("/jobs/{job_id}/clear", response_model=views.JobSummary)
def clear_data(request: Request, job_id: str, access: AccessDep, conn_id: ConnId = DEFAULT_CONN_ID) -> views.JobSummary:
    """Delete a finished job's stored data now (``dsjobs clear --id``): the record stays, marked cleared."""
    _require_json(request)
    service = job_service(conn_id)
    access.require_act(load_visible(service, access, job_id), "DELETE")
    try:
        service.clear(job_id)
    except JobError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, _error(service, exc, f"clearing {job_id}")) from None
    return summary(service, service.read(job_id))
