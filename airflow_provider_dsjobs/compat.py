"""What this Airflow release offers: the one place in the package that tells Airflow 3.0 to 3.3 apart.

Every difference is detected from the feature itself (an attribute or a module), never guessed from a version
number; docs/howto/airflow-versions.md says what each release gets. The rest of the package imports the names
below instead of asking Airflow where they live.

* Task SDK names that moved between releases (exceptions, ``BaseHook``, ``conf``, ``TaskInstanceKey``) come from
  the common-compat provider's ``sdk`` module, Airflow's own answer to this (new location first).
* :data:`TASK_STATE_STORE` (3.3): ``context["task_state_store"]`` keeps the job id across tries. Without it,
  :func:`task_state_store` is ``None`` and the operators re-attach by the job's container labels.
* :data:`TRIGGER_ON_KILL` (3.3): the triggerer calls ``BaseTrigger.on_kill`` when a user kills a deferred task.
  Without it, the trigger asks for the task's state when it is cancelled (:func:`task_killed`).
* :func:`plugin_external_views` (3.1): a plugin's ``external_views`` put the Jobs page in the UI's navigation;
  3.0 lists ``appbuilder_menu_items`` under "Plugins" instead, with the FAB provider (:func:`plugin_menu_items`).
* :func:`teams` (3.2): the auth manager knows teams (``TeamDetails``, a team on DAGs and connections).
* :func:`ui_keeps_session_cookie` (3.1): the UI's login stays in its ``_token`` cookie; 3.0 moves it into
  localStorage, and :func:`request_user` reads the token itself where the core API has no ``bearer_scheme``.
* The secret masker moved (3.1) and gained ``proxy``/``proxies`` (:func:`should_hide_value_for_key`).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib.metadata import version
from typing import Any

from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    AirflowNotFoundException,
    AirflowSkipException,
    AirflowTaskTimeout,
    BaseHook,
    TaskDeferred,
    TaskInstanceKey,
    conf,
    mask_secret,
    timeout,
)
from airflow.sdk.execution_time import context as _task_context
from airflow.triggers.base import BaseTrigger
from packaging.version import Version

try:  # 3.1 and later: the masker shared by the task SDK and the core
    from airflow.sdk._shared.secrets_masker import (
        DEFAULT_SENSITIVE_FIELDS,
        SecretsMasker,
        redact,
        reset_secrets_masker,
    )
    from airflow.sdk._shared.secrets_masker import should_hide_value_for_key as _masker_hides
except ImportError:  # 3.0
    from airflow.sdk.execution_time.secrets_masker import (  # type: ignore[no-redef]
        DEFAULT_SENSITIVE_FIELDS,
        SecretsMasker,
        redact,
        reset_secrets_masker,
    )
    from airflow.sdk.execution_time.secrets_masker import (  # type: ignore[no-redef]
        should_hide_value_for_key as _masker_hides,
    )

#: Sensitive name parts Airflow 3.1 added to its defaults (a proxy URL carries its password), for a 3.0 masker.
_LATER_SENSITIVE_PARTS = tuple(p for p in ("proxy", "proxies") if p not in DEFAULT_SENSITIVE_FIELDS)


def should_hide_value_for_key(name: str) -> bool:
    """Airflow's secret masker rule for a variable, extra or env name (``[core] sensitive_var_conn_names`` and
    ``hide_sensitive_var_conn_fields`` included). On 3.0, whose defaults lack ``proxy``/``proxies``, those count
    too, so a proxy URL with a password is masked on every version."""
    if _masker_hides(name):
        return True
    later = [part for part in _LATER_SENSITIVE_PARTS if part in name.lower()]
    return bool(later) and bool(_masker_hides("password"))  # "password": whether the masker hides names at all


__all__ = [
    "AIRFLOW_VERSION",
    "TASK_STATE_STORE",
    "TRIGGER_ON_KILL",
    "AirflowException",
    "AirflowFailException",
    "AirflowNotFoundException",
    "AirflowSkipException",
    "AirflowTaskTimeout",
    "BaseHook",
    "SecretsMasker",
    "TaskDeferred",
    "TaskInstanceKey",
    "conf",
    "connection_details",
    "dag_details",
    "mask_secret",
    "plugin_external_views",
    "plugin_menu_items",
    "redact",
    "request_user",
    "reset_secrets_masker",
    "should_hide_value_for_key",
    "task_killed",
    "task_state_store",
    "teams",
    "timeout",
    "ui_keeps_session_cookie",
]

#: The running Airflow's release, for messages and the tests' explicit version checks (never for a decision here).
AIRFLOW_VERSION: Version = Version(version("apache-airflow-core"))
#: ``context["task_state_store"]``: durable per-task state that survives retries and clears (Airflow 3.3).
TASK_STATE_STORE: bool = hasattr(_task_context, "TaskStateStoreAccessor")
#: The triggerer calls ``BaseTrigger.on_kill`` on a user's kill of a deferred task (Airflow 3.3).
TRIGGER_ON_KILL: bool = callable(getattr(BaseTrigger, "on_kill", None))


@cache
def plugin_external_views() -> bool:
    """``AirflowPlugin.external_views``: plugin pages in the UI's navigation (Airflow 3.1)."""
    from airflow.plugins_manager import AirflowPlugin

    return hasattr(AirflowPlugin, "external_views")


@cache
def plugin_menu_items() -> bool:
    """The UI lists a plugin's ``appbuilder_menu_items`` under "Plugins" (Airflow 3.0, which has no
    ``external_views``), and the api-server accepts them: only with the FAB provider (it refuses to start without)."""
    from importlib.util import find_spec

    return not plugin_external_views() and find_spec("airflow.providers.fab") is not None


@cache
def teams() -> bool:
    """The auth manager, DAG bundles and connections know teams (Airflow 3.2; used with ``[core] multi_team``).
    Asked lazily: workers never load the api-server's modules for it."""
    try:
        from airflow.api_fastapi.auth.managers.models.resource_details import TeamDetails  # noqa: F401
        from airflow.models.dag import DagModel
    except ImportError:
        return False
    return hasattr(DagModel, "get_team_name")


def task_state_store(context: Mapping[str, Any]) -> Any | None:
    """The task's durable state store, or ``None`` where Airflow has none (before 3.3) or the task runs without
    one: callers then re-attach by the job's container labels."""
    return context.get("task_state_store") if TASK_STATE_STORE else None


def task_killed(task_instance: Any) -> bool:
    """For a trigger whose run was cancelled on an Airflow without ``BaseTrigger.on_kill``: whether a user killed
    its task (mark failed/success, clear: the task is no longer deferred) rather than the triggerer stopping or
    handing the trigger to another triggerer (the task is still deferred). ``False`` when Airflow calls
    ``on_kill`` itself; raises when the state cannot be read (the caller then keeps the job: never a guess)."""
    if TRIGGER_ON_KILL or task_instance is None:
        return False
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

    map_index = getattr(task_instance, "map_index", -1)
    map_index = -1 if map_index is None else int(map_index)
    states = RuntimeTaskInstance.get_task_states(
        dag_id=task_instance.dag_id,
        task_ids=[task_instance.task_id],
        run_ids=[task_instance.run_id],
        map_index=None if map_index < 0 else map_index,
    )
    key = task_instance.task_id if map_index < 0 else f"{task_instance.task_id}_{map_index}"
    state = states.get(task_instance.run_id, {}).get(key)
    return state is not None and str(getattr(state, "value", state)) != "deferred"


@cache
def ui_keeps_session_cookie() -> bool:
    """The UI leaves its login in the ``_token`` cookie, which the core API reads (3.1). Airflow 3.0's UI moves it
    into localStorage and deletes the cookie: the plugin's pages then bring it back (``static/session.js``)."""
    from airflow.api_fastapi.core_api import security

    return hasattr(security, "bearer_scheme")


async def request_user(request: Any) -> Any:
    """The user a request to the plugin's app comes from (401 without a valid token): the JWT of the
    ``Authorization`` header, else of the UI's session cookie, as the core API reads it."""
    from airflow.api_fastapi.core_api import security

    if ui_keeps_session_cookie():  # 3.1 and later: the core API's own reading, cookie included
        return await security.get_user(request, None, await security.bearer_scheme(request))
    from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN
    from fastapi import HTTPException, status

    scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        token = request.cookies.get(COOKIE_NAME_JWT_TOKEN) or ""
    if not token:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Not authenticated")
    return await security.get_user(token)  # type: ignore[arg-type]  # 3.0: get_user(token_str)


def dag_details(dag_id: str) -> Any:
    """``DagDetails`` for an auth manager question about DAG ``dag_id``, with its team where Airflow has teams."""
    from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails

    if not teams():
        return DagDetails(id=dag_id)
    from airflow.models.dag import DagModel

    return DagDetails(id=dag_id, team_name=DagModel.get_team_name(dag_id))


def connection_details(conn_id: str, team: str | None) -> Any:
    """``ConnectionDetails`` for an auth manager question about ``conn_id``, with its team where Airflow has teams."""
    from airflow.api_fastapi.auth.managers.models.resource_details import ConnectionDetails

    return ConnectionDetails(conn_id=conn_id, team_name=team) if teams() else ConnectionDetails(conn_id=conn_id)
