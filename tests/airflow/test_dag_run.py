"""Whole DAG runs with ``dag.test()`` (real task runner, metadata DB, XCom, rendering, links, asset events)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.airflow.helpers import dag_bag, read_uri
from tests.lab.fixtures import https_repo  # noqa: F401  (fixture)

DAGS_DIR = Path(__file__).resolve().parent / "dags"

pytestmark = [pytest.mark.docker, pytest.mark.airflow]


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """The metadata DB of the private AIRFLOW_HOME, migrated once (SQLite)."""
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], capture_output=True, text=True, env=os.environ.copy()
    )
    assert result.returncode == 0, result.stderr[-2000:]


def xcoms_of(dag_id: str, run_id: str) -> dict[tuple[str, str], Any]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(select(XComModel).where(XComModel.dag_id == dag_id, XComModel.run_id == run_id)).all()
        return {(r.task_id, r.key): XComModel.deserialize_value(r) for r in rows}


def load_test_dag(dag_id: str) -> Any:
    bag = dag_bag(DAGS_DIR)
    assert not bag.import_errors, bag.import_errors
    return bag.get_dag(dag_id)


def test_dag_run_renders_config_with_upstream_xcom_link_and_asset_events(airflow_db: None, service: Any) -> None:
    dag = load_test_dag("dsjobs_test_render")
    run = dag.test()
    assert run.state == "success"
    xcoms = xcoms_of(dag.dag_id, run.run_id)
    result = xcoms[("probe", "return_value")]
    assert result["status"] == "SUCCESS"
    assert read_uri(result["outputs"]["RESULT"]) == "picked green\n"
    assert xcoms[("probe", "job_id")] == result["job_id"]
    # Airflow's own end-of-task link pass stored what DataSphereJobLink.get_link returned.
    assert xcoms[("probe", "_link_DataSphereJobLink")] == f"/dsjobs/jobs/{result['job_id']}?conn_id=dsjobs_default"
    assert Path(result["logs"].removeprefix("file://")).is_file()

    # The env value reached the container (the job printed exactly it: the stored log masks that value, as a
    # secret_env_vars entry), yet the rendered fields Airflow stored for the UI hide it.
    assert ("stdout", "note is ***") in list(service.logs(result["job_id"]))
    assert rendered_fields(dag.dag_id, "probe", run.run_id)["env_vars"] == {"PROBE_NOTE": "***"}

    dataset_id = xcoms[("dataset", "output_datasets")]["probe-rows"]
    events = asset_events("dsjobs://default/datasets/probe-rows")
    assert {"dataset_id": dataset_id, "job_id": xcoms[("dataset", "job_id")], "size": 1 << 20} in events


def rendered_fields(dag_id: str, task_id: str, run_id: str) -> dict[str, Any]:
    from airflow.models.renderedtifields import RenderedTaskInstanceFields as RTIF
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        row = session.scalars(
            select(RTIF).where(RTIF.dag_id == dag_id, RTIF.task_id == task_id, RTIF.run_id == run_id)
        ).one()
        return dict(row.rendered_fields)


def asset_events(uri: str) -> list[dict[str, Any]]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(
            select(AssetEvent).join(AssetModel, AssetModel.id == AssetEvent.asset_id).where(AssetModel.uri == uri)
        ).all()
        return [dict(r.extra or {}) for r in rows]


def test_retry_after_crash_reattaches_through_real_task_state_store(airflow_db: None, service: Any) -> None:
    dag = load_test_dag("dsjobs_test_durable")
    run = dag.test()
    assert run.state == "success"
    ti = run.get_task_instance("probe")
    assert ti.try_number == 2
    jobs = [r for r in service.list_jobs() if r.labels.get("airflow.run_id") == run.run_id]
    assert len(jobs) == 1, [j.id for j in jobs]  # the retry did not start a second container
    result = xcoms_of(dag.dag_id, run.run_id)[("probe", "return_value")]
    assert result["job_id"] == jobs[0].id
    assert result["status"] == "SUCCESS"


def test_a_hostile_trigger_form_param_is_data_not_shell_code(airflow_db: None, service: Any) -> None:
    dag = load_test_dag("dsjobs_test_params")  # dags_examples/ui_triggered.py's Param -> args, same job
    name = "Ada Lovelace; echo INJECTED $(echo SUB) `echo BQ` | cat > /tmp/x"
    run = dag.test(run_conf={"name": name})
    assert run.state == "success"
    result = xcoms_of(dag.dag_id, run.run_id)[("greet", "return_value")]
    assert read_uri(result["outputs"]["GREETING"]) == f"Hello, {name}!\n"
    lines = [line for _, line in service.logs(result["job_id"])]
    assert lines[:1] == [f"Hello, {name}!"] and not any(line.startswith("INJECTED") for line in lines)


def test_a_task_dsjobs_function_runs_as_a_job_and_its_return_value_drives_the_dag(
    airflow_db: None, service: Any
) -> None:
    dag = load_test_dag("dsjobs_test_decorator")
    run = dag.test()
    assert run.state == "success"
    xcoms = xcoms_of(dag.dag_id, run.run_id)
    note = "a; echo INJECTED $(id) `id`"
    assert xcoms[("total", "return_value")] == {"total": 120, "note": note}  # the function's value, as JSON
    assert ("big", "return_value") in xcoms and ("small", "return_value") not in xcoms  # branched on it
    job = service.get(xcoms[("total", "job_id")])
    assert job.status.value == "SUCCESS" and job.name == "total" and job.result == {"total": 120, "note": note}
    assert read_uri(job.outputs["OUT"]) == "12"
    lines = [line for _, line in service.logs(job.id)]
    assert "python 3.11 in the job, mode sum" in lines and not any("INJECTED" in line for line in lines)


def test_run_conf_cannot_run_commands_or_name_worker_files_and_its_token_is_masked(
    airflow_db: None,
    service: Any,
    tmp_path: Path,
    https_repo: Any,  # noqa: F811
) -> None:
    """The ML Lab REST pattern (``conf`` → Param → ``execute_code``) through a real DAG run: a git "host" that is an
    option runs nothing, a repository on the worker is refused, and a token in an https URL fetches the code while
    the rendered fields Airflow stores for the UI show it masked."""
    from tests.lab.git_https import TOKEN

    dag = load_test_dag("dsjobs_test_lab_conf")
    pwned = tmp_path / "pwned"
    for code in (f"git+--upload-pack=touch${{IFS}}{pwned};:x", f"git+file://{tmp_path}/repo"):
        run = dag.test(run_conf={"code": code})
        assert run.state == "failed"
        assert not pwned.exists()
    assert service.list_jobs() == []
    url = f"git+https://bot:{TOKEN}@127.0.0.1:{https_repo.port}/repo.git@main#subdirectory=job"
    run = dag.test(run_conf={"code": url})
    assert run.state == "success"
    result = xcoms_of(dag.dag_id, run.run_id)[("lab", "return_value")]
    assert ("stdout", "over https") in list(service.logs(result["job_id"]))
    rendered = str(rendered_fields(dag.dag_id, "lab", run.run_id))
    assert TOKEN not in rendered and "bot:***@127.0.0.1" in rendered
    assert TOKEN not in str(service.get(result["job_id"]).to_doc())
