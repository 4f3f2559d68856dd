"""Where the plugin lives on the api-server, and the address of one job's page (light: no web framework here,
so workers can build the operator's extra link)."""

from __future__ import annotations

from urllib.parse import quote

#: Where the api-server mounts the plugin's app.
URL_PREFIX = "/dsjobs"


def job_page_url(job_id: str, conn_id: str) -> str:
    """The page of one job; relative to the UI's origin unless ``[api] base_url`` is set."""
    from airflow_provider_dsjobs.compat import conf

    base = (conf.get("api", "base_url", fallback=None) or "").rstrip("/")
    return f"{base}{URL_PREFIX}/jobs/{quote(job_id)}?conn_id={quote(conn_id)}"
