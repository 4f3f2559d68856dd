"""LabJobOperator against the real core, Docker engine and local store, run in-process: the same run machinery
as DataSphereJobOperator (XCom, durable re-attach, deferral, on_kill), with an ML Lab image as the job."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import DAG

from airflow_provider_dsjobs.compat import TASK_STATE_STORE, AirflowException, AirflowFailException, TaskDeferred
from airflow_provider_dsjobs.documents.record import JobStatus
from airflow_provider_dsjobs.operators import LabJobOperator
from airflow_provider_dsjobs.operators.job_result import STATE_JOB_ID
from tests.airflow.helpers import DictTaskStateStore, TaskInstanceStandIn, make_context
from tests.airflow.operators.test_job import drive_trigger, wait_until
from tests.lab.fixtures import lab_image  # noqa: F401  (fixture)

pytestmark = [pytest.mark.docker, pytest.mark.airflow]

SLEEPER = """\
import signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: (print("got SIGTERM", flush=True), sys.exit(0)))
print("ready", flush=True)
time.sleep(float(__import__("os").environ.get("SLEEP", "60")))
print("woke up", flush=True)
"""


def lab_op(image: str, **kwargs: Any) -> LabJobOperator:
    kwargs.setdefault("poll_interval", 0.5)
    kwargs.setdefault("task_id", "lab")
    dag = DAG(dag_id="lab_dag", schedule=None, start_date=datetime(2025, 1, 1))
    return LabJobOperator(image=image, dag=dag, **kwargs)


def run(op: LabJobOperator, context: dict[str, Any]) -> dict[str, Any]:
    op.render_template_fields(context)
    return op.execute(context)


@pytest.fixture()
def sleeper(tmp_path: Path) -> str:
    (tmp_path / "sleeper.py").write_text(SLEEPER)
    return str(tmp_path / "sleeper.py")


@pytest.fixture()
def data_volumes(service: Any) -> Iterator[list[str]]:
    """Job names whose ``/data`` volume the test creates; removed afterwards (the project is the shared default)."""
    from airflow_provider_dsjobs.lab.data import clear_data_volume
    from airflow_provider_dsjobs.runtime.containers import Runtime

    names: list[str] = []
    yield names
    runtime = Runtime.connect(service.settings)
    for name in names:
        clear_data_volume(runtime, service.project, name)
    runtime.close()


def test_success_pushes_job_id_and_result_with_templated_params(
    service: Any,
    lab_image: str,  # noqa: F811
    data_volumes: list[str],
) -> None:
    data_volumes.append("lab-2026-12-01")
    ti = TaskInstanceStandIn()
    context = {**make_context(ti), "ds": "2026-12-01"}
    op = lab_op(lab_image, name="lab-{{ ds }}", params={"TARGET": "{{ ds }}"})
    result = run(op, context)
    assert result["status"] == "SUCCESS" and result["return_code"] == 0
    assert ti.xcoms["job_id"] == result["job_id"]
    record = service.get(result["job_id"])
    assert record.kind == "lab" and record.name == "lab-2026-12-01"
    assert ("stdout", "greeting: hello 2026-12-01") in list(service.logs(result["job_id"]))


def test_failed_image_fails_the_task_with_its_exit_code(service: Any, lab_image: str) -> None:  # noqa: F811
    with pytest.raises(AirflowException, match="ended ERROR: program exited with code 7"):
        run(lab_op(lab_image, params={"EXIT_CODE": 7}), make_context())


def test_invalid_job_fails_at_once_without_retries(service: Any) -> None:
    with pytest.raises(AirflowFailException, match="Invalid ML Lab job: params: '1X'"):
        run(lab_op("img:1", params={"1X": "v"}), make_context())
    with pytest.raises(AirflowException, match="cannot fetch file:///nonexistent"):
        run(lab_op("img:1", execute_code="git+file:///nonexistent/repo@main"), make_context())
    assert service.list_jobs() == []


def test_templated_code_location_is_a_run_time_value(service: Any, sleeper: str) -> None:
    """What a run's conf renders into ``execute_code`` (or sets as the ``EXECUTE_CODE`` param) may not name a file on
    the worker or a local repository; git over https/ssh and ``store:KEY`` stay open to it."""
    for op in (
        lab_op("img:1", execute_code="{{ params.code }}"),
        lab_op("img:1", params={"EXECUTE_CODE": "{{ dag_run.conf['code'] }}"}),
    ):
        context = make_context()
        context["params"] = {"code": sleeper}
        context["dag_run"] = type("Run", (), {"conf": {"code": f"git+file://{Path(sleeper).parent}"}})()
        with pytest.raises(AirflowException, match=r"a run-time value .* DSJOBS_LAB_CODE_ROOTS"):
            run(op, context)
    with pytest.raises(AirflowException, match="nothing at"):
        run(lab_op("img:1", execute_code="{{ params.code }}"), {**make_context(), "params": {"code": "store:x.py"}})
    assert service.list_jobs() == []


def test_token_of_a_rendered_code_url_is_masked_before_the_fields_are_stored(service: Any) -> None:
    from airflow_provider_dsjobs.compat import redact

    for token, op in (
        ("glpat-s3cr3t-one", lab_op("img:1", execute_code="git+{{ params.repo }}")),
        ("glpat-s3cr3t-two", lab_op("img:1", params={"EXECUTE_CODE": "git+{{ params.repo }}"})),
    ):
        context = {**make_context(), "params": {"repo": f"https://ci:{token}@git.example/org/r.git"}}
        op.render_template_fields(context)
        shown = str(redact(f"{op.execute_code} {op.job_params}"))
        assert token not in shown and "https://ci:***@git.example" in shown
    encoded = lab_op("img:1", execute_code="git+{{ params.repo }}")
    encoded.render_template_fields({**make_context(), "params": {"repo": "https://ci:a%2Fb-s3cr3t-3@h/r.git"}})
    assert "a/b-s3cr3t-3" not in str(redact("git gets a/b-s3cr3t-3"))  # as git gets it, unquoted


def test_deferral_then_resume(service: Any, lab_image: str, sleeper: str) -> None:  # noqa: F811
    ti = TaskInstanceStandIn()
    context = make_context(ti)
    with pytest.raises(TaskDeferred) as deferred:
        run(lab_op(lab_image, execute_code=sleeper, params={"SLEEP": "1"}, deferrable=True), context)
    event = drive_trigger(deferred.value.trigger)
    result = lab_op(lab_image, deferrable=True).execute_complete(context, event=event)
    assert result["status"] == "SUCCESS" and result["job_id"] == ti.xcoms["job_id"]


def test_retry_reattaches_and_on_kill_cancels_gracefully(service: Any, lab_image: str, sleeper: str) -> None:  # noqa: F811
    from airflow_provider_dsjobs.lab import LabJobConfig
    from airflow_provider_dsjobs.lab.handler import submit_lab_job
    from airflow_provider_dsjobs.operators.base import task_labels

    # A first try that submitted its job (record, labels, task_state_store entry) and then died.
    store = DictTaskStateStore()
    labels = {**task_labels(make_context()), "airflow.try_number": "1"}
    first = submit_lab_job(service, LabJobConfig(image=lab_image, execute_code=sleeper), labels=labels)
    store.set(STATE_JOB_ID, first.id)
    wait_until(lambda: ("stdout", "ready") in list(service.logs(first.id)))
    op = lab_op(lab_image, execute_code=sleeper, wait_for_completion=False)
    again = run(op, make_context(TaskInstanceStandIn(try_number=2), store))
    if TASK_STATE_STORE:
        assert again["job_id"] == first.id and len(service.list_jobs()) == 1  # re-attached, no second job
    else:  # Airflow < 3.3: a task that hands its job off never re-attaches by labels (airflow-versions.md)
        assert again["job_id"] != first.id and len(service.list_jobs()) == 2
        wait_until(lambda: ("stdout", "ready") in list(service.logs(again["job_id"])))
    job_id = again["job_id"]
    op.on_kill()  # inside a SIGTERM handler's budget: the signal is sent, CANCELLING recorded
    assert service.jobs.load(job_id).status == JobStatus.CANCELLING
    record = service.wait(job_id)  # the next reader finishes the cancel
    assert record.status == JobStatus.CANCELLED
    assert ("stdout", "got SIGTERM") in list(service.logs(job_id))


def test_lab_token_from_the_connection_is_masked_and_not_stored(
    service: Any,
    lab_image: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    dsjobs_home: Path,
) -> None:
    import json

    token = "tok-lab-9d8e7f6a5b"
    extra = {"lab_endpoint": "https://lab.example", "lab_api_token": token}
    monkeypatch.setenv("AIRFLOW_CONN_DSJOBS_DEFAULT", json.dumps({"conn_type": "dsjobs", "extra": extra}))
    masked: list[str] = []
    monkeypatch.setattr("airflow_provider_dsjobs.operators.lab.mask_secret", lambda v, name=None: masked.append(v))
    result = run(lab_op(lab_image), make_context())
    assert result["status"] == "SUCCESS"
    assert token in masked
    lines = [line for _, line in service.logs(result["job_id"])]
    assert any(line.strip().endswith("https://lab.example token-set") for line in lines)
    assert token not in "".join(p.read_text() for p in dsjobs_home.rglob("*.json"))
