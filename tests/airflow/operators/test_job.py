"""DataSphereJobOperator against the real core, Docker engine and local store, run in-process.

Each state path a user meets: success, failure with the job's reason, skip codes, invalid config (no retries),
no-wait launch, deferral (trigger driven to its event, then resume), the already-exited shortcut, durable
re-attach from task_state_store and from labels, on_kill (graceful cancel / keep), masking, assets.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import DAG, AssetAlias

from airflow_provider_dsjobs.compat import (
    TASK_STATE_STORE,
    AirflowException,
    AirflowFailException,
    AirflowSkipException,
    TaskDeferred,
)
from airflow_provider_dsjobs.documents.record import JobStatus
from airflow_provider_dsjobs.exceptions import DataSphereInfrastructureError
from airflow_provider_dsjobs.operators import DataSphereJobOperator
from airflow_provider_dsjobs.operators.job_result import STATE_JOB_ID
from airflow_provider_dsjobs.triggers import DataSphereJobTrigger
from tests.airflow.helpers import (
    JOBS_DIR,
    PROBE_DIR,
    DictTaskStateStore,
    TaskInstanceStandIn,
    make_context,
    read_uri,
    reread_masker_config,
    wait_for_probe_started,
)

pytestmark = [pytest.mark.docker, pytest.mark.airflow]

PROBE = "probe/config.yaml"


def make_dag(dag_id: str = "test_dag") -> DAG:
    return DAG(dag_id=dag_id, schedule=None, start_date=datetime(2025, 1, 1), template_searchpath=[str(JOBS_DIR)])


def probe_op(task_id: str = "test_task", config: Any = PROBE, **kwargs: Any) -> DataSphereJobOperator:
    kwargs.setdefault("poll_interval", 0.5)
    return DataSphereJobOperator(task_id=task_id, config=config, dag=make_dag(), **kwargs)


def run(op: DataSphereJobOperator, context: dict[str, Any]) -> dict[str, Any]:
    op.render_template_fields(context)
    return op.execute(context)


def wait_until(predicate: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.2)


def crashed_try(service: Any, store: DictTaskStateStore | None, **args: str) -> str:
    """A first try that submitted the probe (its record, labels and task_state_store entry exist, as
    ``on_created`` leaves them) and then died; returns the job id."""
    from airflow_provider_dsjobs.config import load_config
    from airflow_provider_dsjobs.config.overrides import Overrides, apply_overrides
    from airflow_provider_dsjobs.operators.base import task_labels

    config = load_config(PROBE_DIR / "config.yaml")
    if args:
        config = apply_overrides(config, Overrides(args=args))
    labels = {**task_labels(make_context()), "airflow.try_number": "1"}
    job_id = str(service.submit(config, labels=labels).id)
    if store is not None:
        store.set(STATE_JOB_ID, job_id)
    return job_id


def drive_trigger(trigger: DataSphereJobTrigger) -> dict[str, Any]:
    """Run the trigger like the triggerer does, up to its first event."""

    async def first_event() -> dict[str, Any]:
        async for event in trigger.run():
            return dict(event.payload)
        raise AssertionError("trigger ended without an event")

    return asyncio.run(asyncio.wait_for(first_event(), timeout=120))


def test_success_returns_result_and_pushes_job_id_link_and_datasets(service: Any) -> None:
    ti = TaskInstanceStandIn()
    context = make_context(ti)
    result = run(probe_op(args={"EXIT_CODE": 0}), context)

    assert result["status"] == "SUCCESS"
    assert result["return_code"] == 0
    assert set(result) == {"job_id", "status", "return_code", "outputs", "output_datasets", "logs", "result"}
    assert read_uri(result["outputs"]["RESULT"]) == "probe done\n"
    assert result["result"] == ti.xcoms["result"] == {"exit_code": 0, "message": "probe done"}  # DSJOBS_RESULT_FILE
    assert ti.xcoms["job_id"] == result["job_id"]
    assert ti.xcoms["output_datasets"] == {}
    assert ti.xcoms["_link_DataSphereJobLink"] == f"/dsjobs/jobs/{result['job_id']}?conn_id=dsjobs_default"
    assert service.get(result["job_id"]).status == JobStatus.SUCCESS


def test_job_output_streams_into_the_task_log(service: Any, caplog: pytest.LogCaptureFixture) -> None:
    op = probe_op()
    lines: list[str] = []
    op._log_sink = lambda stream, line: lines.append(f"{stream}:{line}")  # type: ignore[method-assign]
    run(op, make_context())
    assert "stdout:probe started" in lines
    assert "stdout:probe done" in lines


def test_failed_job_fails_the_task_with_its_reason(service: Any) -> None:
    ti = TaskInstanceStandIn()
    with pytest.raises(AirflowException, match=r"ended ERROR.*3") as err:
        run(probe_op(args={"EXIT_CODE": "3"}), make_context(ti))
    assert not isinstance(err.value, (AirflowSkipException, AirflowFailException))  # a retry runs a new job
    assert service.get(ti.xcoms["job_id"]).return_code == 3


@pytest.mark.parametrize(("exit_code", "skip_on"), [(3, 3), (0, [0, 5]), (5, {5})])
def test_exit_code_in_skip_on_exit_code_skips(service: Any, exit_code: int, skip_on: Any) -> None:
    with pytest.raises(AirflowSkipException, match=f"exited with code {exit_code}"):
        run(probe_op(args={"EXIT_CODE": str(exit_code)}, skip_on_exit_code=skip_on), make_context())


def test_exit_code_not_in_skip_list_still_fails(service: Any) -> None:
    with pytest.raises(AirflowException, match="ended ERROR") as err:
        run(probe_op(args={"EXIT_CODE": "4"}, skip_on_exit_code=3), make_context())
    assert not isinstance(err.value, AirflowSkipException)


def test_invalid_config_fails_at_once_without_retries(service: Any) -> None:
    op = probe_op(config={"name": "no-cmd", "inputs": ["probe.py"]})
    with pytest.raises(AirflowFailException, match=r"Invalid job config:.*cmd"):
        run(op, make_context())
    assert service.list_jobs() == []


def test_unknown_override_fails_at_once_naming_it(service: Any) -> None:
    op = probe_op(args={"NOPE": "1"})
    with pytest.raises(AirflowFailException, match="NOPE"):
        run(op, make_context())
    assert service.list_jobs() == []


def test_missing_config_file_fails_at_once(service: Any) -> None:
    op = probe_op(config="probe/absent.yaml")
    with pytest.raises(AirflowFailException, match=r"absent\.yaml.*not found"):
        run(op, make_context())


def test_yaml_file_is_rendered_with_xcom_and_keeps_its_directory(service: Any) -> None:
    """The config is a Jinja template pulling an upstream XCom; probe.py resolves next to the file."""
    ti = TaskInstanceStandIn(upstream={"pick": "blue"})
    op = probe_op(config="probe/templated.yaml")
    result = run(op, make_context(ti))
    assert read_uri(result["outputs"]["RESULT"]) == "picked blue\n"
    assert "picked blue" in op.config  # the rendered text is what the UI shows
    assert service.get(result["job_id"]).name == "templated-blue"


def test_execute_without_rendering_reads_the_file_as_is(service: Any) -> None:
    op = DataSphereJobOperator(task_id="plain", config=str(PROBE_DIR / "config.yaml"), poll_interval=0.5)
    assert op.execute(make_context())["status"] == "SUCCESS"


def test_absolute_config_path_outside_search_path(service: Any) -> None:
    op = DataSphereJobOperator(task_id="abs", config=str(PROBE_DIR / "config.yaml"), dag=make_dag(), poll_interval=0.5)
    assert run(op, make_context())["status"] == "SUCCESS"


def test_mapping_config_resolves_paths_against_dag_folder(service: Any, tmp_path: Path) -> None:
    """A dict config (templated) has no file: relative paths resolve against the DAG file's folder."""
    dag = make_dag()
    dag.fileloc = str(PROBE_DIR / "some_dag.py")
    op = DataSphereJobOperator(
        task_id="mapping",
        dag=dag,
        poll_interval=0.5,
        config={
            "cmd": "python3 probe.py --out ${RESULT} --message '{{ params.word }}'",
            "inputs": ["probe.py"],
            "outputs": [{"result.txt": "RESULT"}],
        },
    )
    context = make_context()
    context["params"] = {"word": "mapped"}
    result = run(op, context)
    assert read_uri(result["outputs"]["RESULT"]) == "mapped\n"


def test_only_secret_env_values_are_masked(service: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_dsjobs.compat import redact, reset_secrets_masker

    reset_secrets_masker()  # nothing masked yet: what follows is masked by this task alone
    monkeypatch.setenv("PROBE_API_TOKEN", "copied-token-11235813")
    monkeypatch.setenv("PROBE_REGION", "europe")
    config = {
        "cmd": "python3 probe.py --out ${RESULT}",
        "inputs": ["probe.py"],
        "outputs": [{"result.txt": "RESULT"}],
        "env": {
            "vars": [
                {"PROBE_NOTE": "not-a-secret"},
                {"DB_PASSWORD": "literal-pass-31415"},
                "PROBE_API_TOKEN",
                "PROBE_REGION",
            ]
        },
    }
    dag = make_dag()
    dag.fileloc = str(PROBE_DIR / "some_dag.py")  # relative inputs resolve against the probe's directory
    op = DataSphereJobOperator(
        task_id="mask",
        config=config,
        dag=dag,
        env_vars={"PROBE_EXTRA": "override-secret-2718", "PROBE_MODE": "fast", "CLIENT_SECRET": "cs-9999-abc"},
        secret_env_vars=["PROBE_EXTRA"],
        poll_interval=0.5,
    )
    result = run(op, make_context())
    assert result["status"] == "SUCCESS"
    for secret in ("literal-pass-31415", "copied-token-11235813", "override-secret-2718", "cs-9999-abc"):
        assert str(redact(f"value {secret}")) == "value ***", secret
    # Ordinary values stay readable, also inside longer words.
    for plain in ("not-a-secret", "europe-west", "fast"):
        assert str(redact(f"value {plain}")) == f"value {plain}", plain


@pytest.fixture
def airflow_masker_config(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Set ``[core]`` masking options through the environment; Airflow's masker reads them once, at start-up,
    so it re-reads them here (as ``airflow.settings.initialize`` does) and again once they are gone."""
    yield monkeypatch
    monkeypatch.undo()
    reread_masker_config()


def test_names_from_sensitive_var_conn_names_are_masked(service: Any, airflow_masker_config: Any) -> None:
    from airflow_provider_dsjobs.compat import redact, reset_secrets_masker

    airflow_masker_config.setenv("AIRFLOW__CORE__SENSITIVE_VAR_CONN_NAMES", "my_custom_field")
    reread_masker_config()
    reset_secrets_masker()
    config = {
        "cmd": "python3 probe.py --out ${RESULT}",
        "inputs": ["probe.py"],
        "outputs": [{"result.txt": "RESULT"}],
        "env": {"vars": [{"MY_CUSTOM_FIELD": "custom-value-4242"}, {"MY_ORDINARY_FIELD": "ordinary-value-77"}]},
    }
    dag = make_dag()
    dag.fileloc = str(PROBE_DIR / "some_dag.py")
    op = DataSphereJobOperator(task_id="custom_mask", config=config, dag=dag, poll_interval=0.5)
    assert run(op, make_context())["status"] == "SUCCESS"
    assert str(redact("value custom-value-4242")) == "value ***"
    assert str(redact("value ordinary-value-77")) == "value ordinary-value-77"


def test_secret_env_vars_must_name_env_vars_entries(service: Any) -> None:
    op = probe_op(env_vars={"A": "1"}, secret_env_vars=["B"])
    with pytest.raises(AirflowFailException, match="secret_env_vars names B, which env_vars does not set"):
        run(op, make_context())


def test_env_override_values_stay_out_of_the_job_record(service: Any) -> None:
    secret = "s3cr3t-override-2718281828"
    result = run(probe_op(env_vars={"PROBE_NOTE": secret}), make_context())
    assert ("stdout", f"note is {secret}") in list(service.logs(result["job_id"]))  # the container got it
    record = service.get(result["job_id"]).to_doc()
    assert secret not in json.dumps(record)
    assert "PROBE_NOTE" in json.dumps(record["config"])  # the name is kept, the value is not


def test_no_wait_returns_once_running_and_pushes_job_id(service: Any) -> None:
    ti = TaskInstanceStandIn()
    result = run(probe_op(args={"SLEEP": "30"}, wait_for_completion=False), make_context(ti))
    assert result["status"] == "EXECUTING"
    assert ti.xcoms["job_id"] == result["job_id"]
    assert "output_datasets" not in ti.xcoms
    assert service.refresh(result["job_id"]).status == JobStatus.EXECUTING


def test_deferrable_defers_then_resume_finalizes_and_shows_log_tail(service: Any) -> None:
    ti = TaskInstanceStandIn()
    context = make_context(ti)
    op = probe_op(args={"SLEEP": "2"}, deferrable=True, log_tail_lines=5)
    with pytest.raises(TaskDeferred) as deferred:
        run(op, context)
    job_id = ti.xcoms["job_id"]  # pushed before deferring, so links and sensors work meanwhile
    trigger = deferred.value.trigger
    assert isinstance(trigger, DataSphereJobTrigger)
    assert trigger.job_id == job_id
    assert deferred.value.method_name == "execute_complete"

    streamed: list[str] = []
    trigger.log.info = lambda msg, *a, **k: streamed.append(msg % a if a else msg)  # type: ignore[method-assign]
    event = drive_trigger(trigger)
    assert event["status"] in ("exited", "terminal")
    assert "probe started" in streamed  # the job's output reached the (trigger's) task log while deferred

    for stream_logs in (True, False):
        resumed = probe_op(args={"SLEEP": "2"}, deferrable=True, log_tail_lines=5)
        tail: list[str] = []
        resumed.log.info = lambda msg, *a, _tail=tail, **k: _tail.append(msg % a if a else msg)  # type: ignore[method-assign]
        result = resumed.execute_complete(context, event={**event, "log_streamed": stream_logs})
        assert result["status"] == "SUCCESS"
        assert read_uri(result["outputs"]["RESULT"]) == "probe done\n"
        assert result["result"] == {"exit_code": 0, "message": "probe done"}
        # The tail is shown on resume only when the trigger did not stream the output already.
        assert ("probe done" in tail) is (not stream_logs)


def test_resume_after_job_was_cancelled_fails_with_reason(service: Any) -> None:
    ti = TaskInstanceStandIn()
    context = make_context(ti)
    with pytest.raises(TaskDeferred) as deferred:
        run(probe_op(args={"SLEEP": "60"}, deferrable=True), context)
    service.cancel(ti.xcoms["job_id"], graceful=False)  # e.g. cancelled from the dsjobs CLI meanwhile
    event = drive_trigger(deferred.value.trigger)
    assert event["job_status"] == "CANCELLED"
    with pytest.raises(AirflowException, match="ended CANCELLED") as err:
        probe_op(deferrable=True).execute_complete(context, event=event)
    assert not isinstance(err.value, AirflowSkipException)


def test_execute_complete_rejects_missing_and_error_events(service: Any) -> None:
    op = probe_op()
    with pytest.raises(AirflowException, match="no usable event"):
        op.execute_complete(make_context(), event=None)
    with pytest.raises(AirflowException, match="engine unreachable"):
        op.execute_complete(make_context(), event={"status": "error", "job_id": "j1", "message": "engine unreachable"})


def test_deferrable_does_not_defer_when_job_already_stopped(service: Any) -> None:
    """Retry of a deferrable task whose job exited meanwhile: finishes inline, no TaskDeferred."""
    store = DictTaskStateStore()
    launched = crashed_try(service, store)
    wait_until(lambda: service.refresh(launched).status == JobStatus.UPLOADING_OUTPUT)

    result = run(probe_op(deferrable=True), make_context(TaskInstanceStandIn(try_number=2), store))
    assert result["job_id"] == launched
    assert result["status"] == "SUCCESS"


def test_retry_reattaches_to_running_job_from_task_state_store(service: Any) -> None:
    store = DictTaskStateStore()
    first = crashed_try(service, store, SLEEP="3")

    ti = TaskInstanceStandIn(try_number=2)
    second = run(probe_op(args={"SLEEP": "3"}), make_context(ti, store))
    assert second["job_id"] == first
    assert second["status"] == "SUCCESS"
    assert [r.id for r in service.list_jobs()] == [first]  # no second job
    assert second["result"] == ti.xcoms["result"] == {"exit_code": 0, "message": "probe done"}  # survives re-attach
    assert ti.xcoms["job_id"] == first


def test_retry_after_crash_past_a_finished_job_reuses_its_result(service: Any) -> None:
    """The worker died after the job finished but before the task did: the retry returns that job's result."""
    store = DictTaskStateStore()
    launched = crashed_try(service, store)
    service.wait(launched)
    again = run(probe_op(), make_context(TaskInstanceStandIn(try_number=2), store))
    assert again["status"] == "SUCCESS"
    if TASK_STATE_STORE:
        assert again["job_id"] == launched
        assert len(service.list_jobs()) == 1
    else:  # Airflow < 3.3: the labels re-attach to running jobs only, so the retry runs the job again
        assert again["job_id"] != launched
        assert len(service.list_jobs()) == 2


def test_clearing_a_successful_task_runs_the_job_again(service: Any) -> None:
    store = DictTaskStateStore()
    first = run(probe_op(), make_context(store=store))
    assert STATE_JOB_ID not in store.data  # forgotten once the task is done with it
    again = run(probe_op(), make_context(TaskInstanceStandIn(try_number=2), store))
    assert again["job_id"] != first["job_id"]


def test_retry_after_failed_job_submits_a_new_one(service: Any) -> None:
    store = DictTaskStateStore()
    with pytest.raises(AirflowException):
        run(probe_op(args={"EXIT_CODE": "1"}), make_context(store=store))
    assert STATE_JOB_ID not in store.data
    result = run(probe_op(), make_context(TaskInstanceStandIn(try_number=2), store))
    assert result["status"] == "SUCCESS"
    assert len(service.list_jobs()) == 2


def test_retry_reattaches_by_labels_when_store_is_empty(service: Any) -> None:
    """The worker died before the id reached the store: the container labels find the job."""
    first = crashed_try(service, None, SLEEP="3")
    store = DictTaskStateStore()
    second = run(probe_op(args={"SLEEP": "3"}), make_context(TaskInstanceStandIn(try_number=2), store))
    assert (second["job_id"], second["status"]) == (first, "SUCCESS")
    assert len(service.list_jobs()) == 1


@pytest.mark.parametrize("job_still_running", [True, False])
def test_clearing_a_no_wait_task_runs_the_job_again(service: Any, job_still_running: bool) -> None:
    """wait_for_completion=False hands the job off; a clear (the next try) must launch a new one, neither
    re-attaching through task_state_store nor through the container labels."""
    store = DictTaskStateStore()
    first = run(
        probe_op(args={"SLEEP": "30" if job_still_running else "0"}, wait_for_completion=False),
        make_context(store=store),
    )
    if not job_still_running:
        service.wait(first["job_id"])
    again = run(probe_op(wait_for_completion=False), make_context(TaskInstanceStandIn(try_number=2), store))
    assert again["job_id"] != first["job_id"]
    assert len(service.list_jobs()) == 2


def test_retry_after_a_try_died_while_launching_starts_a_new_job(service: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Try 1's worker died while staging (the record says CREATING and nobody will move it on): try 2 finds it
    by its labels, sees its launch lease go stale, ends it ERROR and runs the job afresh instead of waiting on it."""
    from airflow_provider_dsjobs.jobs import lease as lease_module
    from airflow_provider_dsjobs.jobs.submitter import JobSubmitter

    def die(*args: Any, **kwargs: Any) -> None:
        raise SystemExit("worker killed")  # not an Exception: the submit's own error handling never runs

    with monkeypatch.context() as patch:
        patch.setattr(JobSubmitter, "_launch", die)
        with pytest.raises(SystemExit):
            run(probe_op(), make_context(store=None))
    [dead] = service.list_jobs()
    assert dead.status == JobStatus.CREATING

    monkeypatch.setattr(lease_module, "STALE_AFTER_S", 0.5)  # instead of a minute
    time.sleep(1)
    store = DictTaskStateStore()
    second = run(probe_op(), make_context(TaskInstanceStandIn(try_number=2), store))
    assert second["job_id"] != dead.id and second["status"] == "SUCCESS"
    abandoned = service.get(dead.id)
    assert abandoned.status == JobStatus.ERROR
    assert abandoned.status_details.startswith("the process launching the job stopped before the job started")


def test_labels_of_another_task_are_not_reattached(service: Any) -> None:
    other = run(
        probe_op(task_id="other", args={"SLEEP": "30"}, wait_for_completion=False),
        make_context(TaskInstanceStandIn(task_id="other")),
    )
    mine = run(probe_op(), make_context(TaskInstanceStandIn(task_id="mine", try_number=2)))
    assert mine["job_id"] != other["job_id"]


def test_first_try_does_not_reattach_by_labels(service: Any) -> None:
    """Try 1 cannot have a crashed predecessor; a running job with the same labels is someone else's run."""
    first = run(probe_op(args={"SLEEP": "30"}, wait_for_completion=False), make_context())
    second = run(probe_op(), make_context(TaskInstanceStandIn(try_number=1), DictTaskStateStore()))
    assert second["job_id"] != first["job_id"]


def test_durable_false_always_submits(service: Any) -> None:
    store = DictTaskStateStore()
    first = run(probe_op(args={"SLEEP": "30"}, wait_for_completion=False, durable=False), make_context(store=store))
    second = run(probe_op(durable=False), make_context(store=store))
    assert second["job_id"] != first["job_id"]
    assert store.data == {}


def _execute_in_thread(op: DataSphereJobOperator, context: dict[str, Any]) -> tuple[threading.Thread, dict]:
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["result"] = run(op, context)
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, outcome


def test_on_kill_cancels_gracefully_with_config_signal(service: Any) -> None:
    ti = TaskInstanceStandIn()
    op = probe_op(args={"SLEEP": "60"})
    thread, outcome = _execute_in_thread(op, make_context(ti))
    wait_until(lambda: "job_id" in ti.xcoms and service.refresh(ti.xcoms["job_id"]).status == JobStatus.EXECUTING)
    wait_for_probe_started(service, ti.xcoms["job_id"])

    op.on_kill()
    thread.join(timeout=60)
    assert not thread.is_alive()
    record = service.get(ti.xcoms["job_id"])
    assert record.status == JobStatus.CANCELLED
    assert ("stdout", "probe got SIGTERM, shutting down cleanly") in list(service.logs(record.id))
    assert isinstance(outcome.get("error"), AirflowException)
    assert "CANCELLED" in str(outcome["error"])


def test_on_kill_keep_leaves_job_running(service: Any) -> None:
    ti = TaskInstanceStandIn()
    op = probe_op(args={"SLEEP": "60"}, wait_for_completion=False, on_kill_action="keep")
    run(op, make_context(ti))
    op.on_kill()
    time.sleep(1)
    assert service.refresh(ti.xcoms["job_id"]).status == JobStatus.EXECUTING


def test_on_kill_before_submit_does_nothing(service: Any) -> None:
    probe_op().on_kill()
    assert service.list_jobs() == []


def test_output_datasets_become_asset_events(service: Any) -> None:
    ti = TaskInstanceStandIn()
    context = make_context(ti)
    op = probe_op(config="probe/dataset.yaml", dataset_alias="my-alias")
    assert AssetAlias("my-alias") in op.outlets
    result = run(op, context)

    dataset_id = result["output_datasets"]["probe-rows"]
    assert ti.xcoms["output_datasets"] == {"probe-rows": dataset_id}
    events = context["outlet_events"][AssetAlias("my-alias")].asset_alias_events
    assert len(events) == 1
    assert events[0].dest_asset_key.uri == "dsjobs://default/datasets/probe-rows"
    assert events[0].extra == {
        "dataset_id": dataset_id,
        "job_id": result["job_id"],
        "size": 1 << 20,
    }  # declared size: 1MB


def test_no_dataset_alias_means_no_asset_events(service: Any) -> None:
    context = make_context()
    op = probe_op(config="probe/dataset.yaml", dataset_alias=None)
    assert op.outlets == []
    run(op, context)
    assert context["outlet_events"][AssetAlias("dsjobs-output-datasets")].asset_alias_events == []


def test_template_fields_are_attributes_and_include_overrides() -> None:
    op = probe_op()
    for name in op.template_fields:
        assert hasattr(op, name), name
    assert {"config", "args", "input_vars", "output_vars", "env_vars", "cloud_instance_types"} <= set(
        op.template_fields
    )
    assert op.template_ext == (".yaml", ".yml")


def test_bad_on_kill_action_is_rejected_at_parse_time() -> None:
    with pytest.raises(ValueError, match="on_kill_action"):
        probe_op(on_kill_action="delete")


def test_unreachable_engine_fails_with_one_line_reason(service: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_DSJOBS_BROKEN",
        '{"conn_type": "dsjobs", "extra": {"docker_url": "tcp://127.0.0.1:9", "docker_allow_insecure": "true"}}',
    )
    op = probe_op(dsjobs_conn_id="dsjobs_broken")
    with pytest.raises(AirflowException) as err:
        run(op, make_context())
    assert isinstance(err.value, DataSphereInfrastructureError)  # retried: the engine may come back
    assert not isinstance(err.value, AirflowFailException)
    assert "\n" not in str(err.value)
    assert err.value.__cause__ is None and err.value.__suppress_context__


def test_a_read_write_s3_mount_is_synced_back_and_said_in_the_task_log(
    service: Any, s3_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    client = boto3.client("s3", endpoint_url=s3_env["endpoint"], region_name="us-east-1")
    client.put_object(Bucket=s3_env["bucket"], Key="scratch/.keep", Body=b"")
    monkeypatch.setenv("DSJOBS_S3_MOUNT_SCRATCH01", f"s3://{s3_env['bucket']}/scratch")
    monkeypatch.setenv("DSJOBS_S3_MOUNT_SCRATCH01_MODE", "rw")
    op = DataSphereJobOperator(
        task_id="rw_mount",
        dag=make_dag(),
        poll_interval=0.5,
        config={"cmd": "echo partial > ${M}/ckpt.txt; exit 5", "s3-mounts": [{"scratch01": "M"}]},
    )
    said: list[str] = []
    op.log.info = lambda msg, *a, **k: said.append(msg % a if a else msg)  # type: ignore[method-assign]
    with pytest.raises(AirflowException, match="program exited with code 5"):
        run(op, make_context())
    assert client.get_object(Bucket=s3_env["bucket"], Key="scratch/ckpt.txt")["Body"].read() == b"partial\n"
    assert (
        f"s3-mount scratch01: uploaded 1 new or changed file(s) (8 bytes) to s3://{s3_env['bucket']}/scratch, "
        "1 unchanged" in said
    )
