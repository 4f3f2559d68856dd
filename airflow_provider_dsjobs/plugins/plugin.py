"""The plugin class Airflow loads (through the provider info's ``plugins``): one FastAPI app mounted at
``/dsjobs`` on the api-server, and a nav entry that shows its Jobs page inside Airflow's UI (Airflow 3.1 and
later: ``external_views``), or a link to it under the UI's "Plugins" menu (3.0 with the FAB provider:
``appbuilder_menu_items``; without it the 3.0 api-server refuses those, and the page is only at ``/dsjobs/``)."""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

from airflow_provider_dsjobs.compat import plugin_external_views, plugin_menu_items
from airflow_provider_dsjobs.plugins.urls import URL_PREFIX

NAME = "DataSphere Jobs"


def _app() -> Any:
    from airflow_provider_dsjobs.plugins.app import create_app

    return create_app()


def _nav_entry() -> dict[str, list[dict[str, str]]]:
    """The Jobs page in the UI's navigation, in the form this Airflow knows (one form only: not twice)."""
    if plugin_external_views():
        view = {
            "name": NAME,
            "href": f"{URL_PREFIX}/",
            "url_route": "dsjobs",
            "destination": "nav",
            "category": "browse",
            "icon": f"{URL_PREFIX}/static/icon.svg",
            "icon_dark_mode": f"{URL_PREFIX}/static/icon-dark.svg",
        }
        return {"external_views": [view], "appbuilder_menu_items": []}
    items = [{"name": NAME, "href": f"{URL_PREFIX}/"}] if plugin_menu_items() else []
    return {"external_views": [], "appbuilder_menu_items": items}


class DataSphereJobsPlugin(AirflowPlugin):
    name = "dsjobs"
    fastapi_apps = [{"app": _app(), "url_prefix": URL_PREFIX, "name": NAME}]
    external_views = _nav_entry()["external_views"]
    appbuilder_menu_items = _nav_entry()["appbuilder_menu_items"]
