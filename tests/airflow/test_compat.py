"""compat detects each version-specific feature from the feature itself; these explicit version checks fail when
a release that has a feature is not detected as having it (or the other way round), so a fallback never runs
silently where the real feature exists (docs/howto/airflow-versions.md)."""

from __future__ import annotations

from importlib.util import find_spec

import pytest

from airflow_provider_dsjobs import compat

pytestmark = pytest.mark.airflow

RELEASE = compat.AIRFLOW_VERSION.release[:2]


def test_the_release_is_one_the_provider_supports() -> None:
    assert RELEASE >= (3, 0)


def test_task_state_store_is_detected_exactly_from_3_3() -> None:
    assert (RELEASE >= (3, 3)) == compat.TASK_STATE_STORE


def test_trigger_on_kill_is_detected_exactly_from_3_3() -> None:
    assert (RELEASE >= (3, 3)) == compat.TRIGGER_ON_KILL


def test_plugin_external_views_are_detected_exactly_from_3_1() -> None:
    assert compat.plugin_external_views() == (RELEASE >= (3, 1))


def test_teams_are_detected_exactly_from_3_2() -> None:
    assert compat.teams() == (RELEASE >= (3, 2))


def test_without_a_store_the_operators_see_none_even_when_the_context_has_one() -> None:
    """Before 3.3 Airflow never puts a store in the context; a stand-in one (the tests' dict) is ignored there so
    the tests run the fallback, as a real 3.0 task does."""
    stand_in = object()
    assert compat.task_state_store({"task_state_store": stand_in}) is (stand_in if compat.TASK_STATE_STORE else None)
    assert compat.task_state_store({}) is None


def test_the_plugin_registers_its_page_in_one_navigation_form_only() -> None:
    from airflow_provider_dsjobs.plugins.plugin import DataSphereJobsPlugin

    views, items = DataSphereJobsPlugin.external_views, DataSphereJobsPlugin.appbuilder_menu_items
    if RELEASE >= (3, 1):
        assert [v["href"] for v in views] == ["/dsjobs/"] and items == []
    elif find_spec("airflow.providers.fab") is not None:  # 3.0 lists appbuilder_menu_items under "Plugins"
        assert views == [] and [(i["name"], i["href"]) for i in items] == [("DataSphere Jobs", "/dsjobs/")]
    else:  # 3.0 without FAB: the api-server would refuse to start with menu items; the page is at /dsjobs/ only
        assert views == [] and items == []


@pytest.mark.parametrize("name", ["HTTP_PROXY", "https_proxies", "FTP_PROXY"])
def test_proxy_names_are_secret_on_every_release(name: str) -> None:
    assert compat.should_hide_value_for_key(name)


def test_task_killed_is_never_asked_where_airflow_calls_on_kill() -> None:
    assert compat.task_killed(None) is False


def test_auth_questions_carry_a_team_only_where_airflow_has_teams() -> None:
    connection = compat.connection_details("dsjobs_x", "team_a")
    assert connection.conn_id == "dsjobs_x"
    if compat.teams():
        assert connection.team_name == "team_a"
    else:  # 3.0, 3.1: the auth manager's details have no team
        assert not hasattr(connection, "team_name")
        assert compat.dag_details("dag_x").id == "dag_x"
        assert not hasattr(compat.dag_details("dag_x"), "team_name")
