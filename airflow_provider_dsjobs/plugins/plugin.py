"""The plugin class Airflow loads (through the provider info's ``plugins``): one FastAPI app mounted at
``/dsjobs`` on the api-server, and a nav entry that shows its Jobs page inside Airflow's UI."""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

from airflow_provider_dsjobs.plugins.urls import URL_PREFIX


def _app() -> Any:
    from airflow_provider_dsjobs.plugins.app import create_app

    return create_app()


class DataSphereJobsPlugin(AirflowPlugin):
    name = "dsjobs"
    fastapi_apps = [{"app": _app(), "url_prefix": URL_PREFIX, "name": "DataSphere Jobs"}]
    external_views = [
        {
            "name": "DataSphere Jobs",
            "href": f"{URL_PREFIX}/",
            "url_route": "dsjobs",
            "destination": "nav",
            "category": "browse",
            "icon": f"{URL_PREFIX}/static/icon.svg",
            "icon_dark_mode": f"{URL_PREFIX}/static/icon-dark.svg",
        }
    ]
