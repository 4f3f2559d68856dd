"""A fault-free in-process harness for the Airflow layer: a task-instance stand-in that records XComs, a
dict-backed task_state_store, a task context, and the probe job the tests run.

The harness replaces only what the task runner would supply; operators, hooks, triggers, the core service, the
Docker engine and the store are all real.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
#: Job directories used by these tests (configs plus the probe script they ship into containers).
JOBS_DIR = Path(__file__).resolve().parent / "jobs"
PROBE_DIR = JOBS_DIR / "probe"


class TaskInstanceStandIn:
    """What operators use of ``context["ti"]``: identity, ``xcom_push`` (recorded) and ``xcom_pull``."""

    def __init__(
        self,
        dag_id: str = "test_dag",
        task_id: str = "test_task",
        run_id: str = "manual__test",
        map_index: int = -1,
        try_number: int = 1,
        upstream: dict[str, Any] | None = None,
        start_date: datetime | None = None,
    ) -> None:
        self.dag_id = dag_id
        self.task_id = task_id
        self.run_id = run_id
        self.map_index = map_index
        self.try_number = try_number
        self.start_date = start_date or datetime.now(timezone.utc)  # when this try started
        self.xcoms: dict[str, Any] = {}
        self.upstream = upstream or {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[key] = value

    def xcom_pull(self, task_ids: str | None = None, key: str = "return_value", **_: Any) -> Any:
        value = self.upstream.get(str(task_ids))
        if isinstance(value, dict) and key != "return_value":
            return value.get(key)
        return value


class DictTaskStateStore:
    """The task_state_store interface (get/set/delete/clear) over a dict that outlives operator instances."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def set(self, key: str, value: Any, *, retention: Any = None) -> None:
        if value is None:
            raise ValueError("Cannot set value as None")
        self.data[key] = value

    def delete(self, key: str) -> None:
        self.data.pop(key, None)

    def clear(self) -> None:
        self.data.clear()


def make_context(ti: TaskInstanceStandIn | None = None, store: DictTaskStateStore | None = None) -> dict[str, Any]:
    from airflow.sdk.execution_time.context import OutletEventAccessors

    return {
        "ti": ti or TaskInstanceStandIn(),
        "task_state_store": store,
        "outlet_events": OutletEventAccessors(),
        "params": {},
    }


def submit_probe(service: Any, **args: str) -> str:
    """Start the probe job directly through the service (args override its ``args``); returns the job id."""
    from airflow_provider_dsjobs.config import load_config
    from airflow_provider_dsjobs.config.overrides import Overrides, apply_overrides

    config = load_config(PROBE_DIR / "config.yaml")
    if args:
        config = apply_overrides(config, Overrides(args=args))
    return str(service.submit(config).id)


def wait_for_probe_started(service: Any, job_id: str, timeout: float = 60.0) -> None:
    """Wait until the probe has printed "probe started", which it does after installing its SIGTERM handler
    (a fixed sleep instead loses the signal on a loaded machine)."""
    deadline = time.monotonic() + timeout
    while ("stdout", "probe started") not in list(service.logs(job_id)):
        assert time.monotonic() < deadline, f"the probe job {job_id} never printed 'probe started'"
        time.sleep(0.2)


def read_uri(uri: str) -> str:
    """Text of a ``file://`` URI from the embedded local store."""
    assert uri.startswith("file://"), uri
    return Path(uri.removeprefix("file://")).read_text(encoding="utf-8")


def dag_bag(folder: Path) -> Any:
    """A ``DagBag`` of ``folder`` (the class lives in ``airflow.dag_processing.dagbag`` since Airflow 3.2, in
    ``airflow.models.dagbag`` before; tests only, the package never parses DAG files)."""
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 3.0 and 3.1
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef,attr-defined,unused-ignore]
    return DagBag(dag_folder=str(folder))


def task_runtime_hooks() -> Any:
    """The hooks the task runtime knows by connection type (``ProvidersManagerTaskRuntime`` since Airflow 3.2,
    the ``ProvidersManager`` itself before)."""
    try:
        from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime
    except ImportError:  # Airflow 3.0 and 3.1
        from airflow.providers_manager import ProvidersManager

        return ProvidersManager().hooks
    return ProvidersManagerTaskRuntime().hooks


def reread_masker_config() -> None:
    """Make Airflow's secret masker read ``[core] sensitive_var_conn_names`` and ``hide_sensitive_var_conn_fields``
    again (it reads them once): ``settings._configure_secrets_masker`` since 3.1; 3.0 caches the names in the
    masker module and the switch in ``settings``."""
    from airflow import settings

    if hasattr(settings, "_configure_secrets_masker"):
        settings._configure_secrets_masker()
        return
    from airflow.configuration import conf
    from airflow.sdk.execution_time import secrets_masker  # type: ignore[attr-defined,unused-ignore]

    secrets_masker.get_sensitive_variables_fields.cache_clear()
    settings.HIDE_SENSITIVE_VAR_CONN_FIELDS = conf.getboolean("core", "hide_sensitive_var_conn_fields")
