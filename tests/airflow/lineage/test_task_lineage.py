"""The lineage calls the OpenLineage provider makes on a task, in process, with a real job in the local store: the
facts the task captured, the read at the provider's request when it captured none, and what never fails a task."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dsjobs.hooks import DataSphereJobsHook
from airflow_provider_dsjobs.lineage.task import capture, lineage_enabled, task_lineage
from airflow_provider_dsjobs.operators import DataSphereJobOperator
from tests.airflow.helpers import PROBE_DIR, make_context, submit_probe

pytestmark = [pytest.mark.docker, pytest.mark.airflow]


def forget_openlineage_config() -> None:
    """The provider caches its config (except under pytest, where its ``cache`` does nothing)."""
    from airflow.providers.openlineage import conf

    for function in (conf.is_disabled, conf.transport):
        getattr(function, "cache_clear", lambda: None)()


@pytest.fixture()
def openlineage_on(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """A file transport configured, as a deployment would."""
    transport = '{"type": "file", "log_file_path": "' + str(tmp_path / "events.jsonl") + '"}'
    monkeypatch.setenv("AIRFLOW__OPENLINEAGE__TRANSPORT", transport)
    forget_openlineage_config()
    yield
    forget_openlineage_config()


def names(datasets: list[Any]) -> list[tuple[str, str]]:
    return [(d.namespace, d.name) for d in datasets]


def test_without_a_transport_the_task_reads_nothing_for_lineage(service: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW__OPENLINEAGE__TRANSPORT", raising=False)
    forget_openlineage_config()
    assert not lineage_enabled()
    record = service.wait(submit_probe(service), poll_interval=0.2)
    assert capture(DataSphereJobsHook(), record) is None


def test_the_operator_captures_its_jobs_facts_and_reports_them(openlineage_on: None, service: Any) -> None:
    op = DataSphereJobOperator(task_id="probe", config=str(PROBE_DIR / "config.yaml"), poll_interval=0.2)
    result = op.execute(make_context())
    assert op._lineage_facts is not None and op._lineage_facts.job_id == result["job_id"]
    lineage = op.get_openlineage_facets_on_complete(None)
    record = service.read(result["job_id"])
    assert names(lineage.inputs) == [("dsjobs://default", f"blobs/{record.inputs[0].sha256}")]
    (stored,) = lineage.outputs
    assert (stored.namespace, stored.name) == ("file", record.outputs["RESULT"].removeprefix("file://"))
    assert lineage.run_facets["dsjobsRun"].url == f"/dsjobs/jobs/{record.id}?conn_id=dsjobs_default"
    assert lineage.job_facets["dsjobsJob"].configHash.startswith("sha256:")


def test_without_captured_facts_the_job_is_read_when_the_provider_asks(service: Any) -> None:
    record = service.wait(submit_probe(service, EXIT_CODE="4"), poll_interval=0.2)
    lineage = task_lineage(DataSphereJobsHook(), record.id, failed=True)
    assert lineage.run_facets["dsjobsRun"].returnCode == 4
    assert "exited with code 4" in lineage.run_facets["errorMessage"].message
    assert names(lineage.inputs) == [("dsjobs://default", f"blobs/{record.inputs[0].sha256}")]


def test_lineage_never_fails_the_task(dsjobs_home: Path, caplog: pytest.LogCaptureFixture) -> None:
    hook = DataSphereJobsHook()
    assert task_lineage(hook, None).inputs == []  # the task failed before its job existed
    with caplog.at_level(logging.WARNING):
        lineage = task_lineage(hook, "j20250101-000000000-missing0", failed=True)
    assert (lineage.inputs, lineage.outputs, lineage.run_facets) == ([], [], {})
    assert "j20250101-000000000-missing0 cannot be read" in caplog.text
