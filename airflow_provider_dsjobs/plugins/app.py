"""The FastAPI app the api-server mounts at ``/dsjobs``: pages, JSON API and static files, every route behind
Airflow's auth manager (``plugins/auth.py``). A page asked for without a login redirects to the login page."""

from __future__ import annotations

from html import escape
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException


def _login_redirect(request: Request) -> Response | None:
    """For a page (not the API) asked for without a valid login: a redirect to the auth manager's login page
    that comes back here."""
    root = request.scope.get("root_path", "")
    if request.method != "GET" or request.url.path.startswith(f"{root}/api/"):
        return None
    from airflow.api_fastapi.app import get_auth_manager

    from airflow_provider_dsjobs.compat import ui_keeps_session_cookie

    login = get_auth_manager().get_url_login(next_url=str(request.url))
    if ui_keeps_session_cookie():
        return RedirectResponse(login, status_code=303)
    # Airflow 3.0: the UI keeps the login in localStorage; static/session.js brings it here as a cookie.
    page = (
        f'<!doctype html><html data-login="{escape(login)}" data-path="{escape(root or "/")}">'
        f'<meta charset="utf-8"><title>DataSphere Jobs</title><script src="{escape(root)}/static/session.js"></script>'
    )
    return HTMLResponse(page, status_code=401, headers={"Cache-Control": "no-store"})


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 401:
        redirect = _login_redirect(request)
        if redirect is not None:
            return redirect
    return await http_exception_handler(request, exc)


def create_app() -> FastAPI:
    from airflow_provider_dsjobs.plugins import api, pages

    app = FastAPI(title="DataSphere Jobs", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.include_router(api.router)
    app.include_router(pages.router)
    # Style, script and icons only: no job data, so they need no login (the nav icon loads before one).
    app.mount("/static", StaticFiles(directory=Path(__file__).with_name("static")), name="static")
    return app
