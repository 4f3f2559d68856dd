"""The lineage of a job as OpenLineage events: hostile names keep events valid and the graph connected, the
validator in ``spec.py`` rejects what the spec forbids, and the operators work without the OpenLineage provider."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from openlineage.client.event_v2 import Job, Run, RunEvent, RunState
from openlineage.client.serde import Serde

from airflow_provider_dsjobs.assets import convert_asset_to_openlineage, create_asset
from airflow_provider_dsjobs.lineage.facts import (
    ROLE_LOCAL_INPUT,
    ROLE_OUTPUT_DATASET,
    DatasetFact,
    JobFacts,
    dataset_name,
    project_namespace,
    s3_dataset,
)
from airflow_provider_dsjobs.lineage.openlineage import operator_lineage
from tests.airflow.lineage.spec import validate_event

pytestmark = pytest.mark.airflow

REPO = Path(__file__).resolve().parents[3]
#: Names a user may write or a run may carry: separators, quotes, URI syntax, escapes, control characters.
HOSTILE = ["a/b/../c", 'rows "q" #1 ü?&%', "x\ny\tz", "%2F..%00", "{{ dag_run.conf }}", "' OR 1=1 --", "🙂 " * 3]


def facts(project: str = "default", name: str = "rows", path: str = "data/in.txt", **changes: Any) -> JobFacts:
    values: dict[str, Any] = {
        "job_id": "j20250101-000000000-abcdefgh",
        "project": project,
        "kind": "config",
        "status": "SUCCESS",
        "status_details": None,
        "return_code": 0,
        "image": "python:3.11-slim",
        "instance_type": "c1.4",
        "config_hash": "sha256:" + "0" * 64,
        "url": "https://console.example/p/jobs/j1",
        "inputs": (
            DatasetFact(
                project_namespace(project),
                "blobs/" + "a" * 64,
                ROLE_LOCAL_INPUT,
                details={"path": path, "var": "IN", "kind": "file", "size": 3},
            ),
        ),
        "outputs": (
            DatasetFact(
                project_namespace(project),
                dataset_name(name),
                ROLE_OUTPUT_DATASET,
                "d1",
                {"datasetId": "d1", "declaredSize": 1 << 20},
            ),
        ),
    }
    values.update(changes)
    return JobFacts(**values)


def event_of(job: JobFacts, state: RunState = RunState.COMPLETE, *, failed: bool = False) -> dict[str, Any]:
    """The event the OpenLineage provider builds from a task's lineage (its own facets left out)."""
    lineage = operator_lineage(job, failed=failed)
    event = RunEvent(
        eventType=state,
        eventTime=datetime.now(timezone.utc).isoformat(),
        run=Run(runId=str(uuid.uuid4()), facets=lineage.run_facets),
        job=Job(namespace="default", name="dag.task", facets=lineage.job_facets),
        producer="https://github.com/apache/airflow/tree/providers-openlineage/2.20.3",
        inputs=lineage.inputs,
        outputs=lineage.outputs,
    )
    return Serde.to_dict(event)  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_keep_events_valid_and_match_the_asset_converter(name: str) -> None:
    event = event_of(facts(project=name, name=name, path=name))
    validate_event(event)
    (output,) = event["outputs"]
    asset = convert_asset_to_openlineage(create_asset(project=name, name=name), None)
    assert (output["namespace"], output["name"]) == (asset.namespace, asset.name)
    assert event["inputs"][0]["facets"]["dsjobsData"]["path"] == name  # data, as written


def test_a_failed_job_carries_its_reason_in_the_error_facet() -> None:
    event = event_of(facts(status="ERROR", status_details="program exited with code 3", return_code=3), RunState.FAIL)
    validate_event(event)
    message = event["run"]["facets"]["errorMessage"]["message"]
    assert message == "job j20250101-000000000-abcdefgh is ERROR: program exited with code 3"
    assert event["run"]["facets"]["dsjobsRun"]["returnCode"] == 3
    # a job that succeeded in a task that failed afterwards is not given an error of its own
    assert "errorMessage" not in event_of(facts(), RunState.FAIL, failed=True)["run"]["facets"]


@pytest.mark.parametrize(
    "spoil",
    [
        lambda e: e["run"]["facets"]["dsjobsRun"].pop("_producer"),
        lambda e: e["job"]["facets"]["dsjobsJob"].update(configHash="md5:0"),
        lambda e: e["outputs"][0]["facets"]["dsjobsData"].update(role="elsewhere"),
        lambda e: e["inputs"][0]["facets"]["dsjobsData"].update(size=-1),
        lambda e: e["run"].update(runId="not-a-uuid"),
        lambda e: e.update(eventTime="yesterday"),
        lambda e: e["outputs"][0].pop("namespace"),
        lambda e: e["run"]["facets"]["dsjobsRun"].update(_schemaURL="not a uri"),
    ],
)
def test_the_validator_rejects_what_the_schemas_forbid(spoil: Any) -> None:
    event = event_of(facts())
    validate_event(event)
    spoil(event)
    with pytest.raises(jsonschema.ValidationError):
        validate_event(event)


def test_s3_naming() -> None:
    assert s3_dataset("s3://bucket") == ("s3://bucket", "/")
    assert s3_dataset("s3://bucket/lake/2024/") == ("s3://bucket", "lake/2024")


BLOCK_OPENLINEAGE = textwrap.dedent(
    """
    import sys
    import importlib.metadata, importlib_metadata

    # As if not installed: no module imports, and no distribution lists its entry points (provider, plugin).
    def hide(distributions):
        def listed(**kwargs):
            for dist in distributions(**kwargs):
                name = (dist.metadata["name"] or "").lower().replace("_", "-")
                if "openlineage" not in name:
                    yield dist
        return listed

    importlib.metadata.distributions = hide(importlib.metadata.distributions)
    importlib_metadata.distributions = hide(importlib_metadata.distributions)

    class NoOpenLineage:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] == "openlineage" or name.startswith("airflow.providers.openlineage"):
                raise ImportError(f"OpenLineage is not installed in this test: {name}")
            return None

    sys.meta_path.insert(0, NoOpenLineage())
    """
)


def test_operators_sensor_and_provider_info_work_without_the_openlineage_provider(tmp_path: Path) -> None:
    code = """
        from airflow.sdk import DAG
        from airflow_provider_dsjobs.get_provider_info import get_provider_info
        from airflow_provider_dsjobs.lineage.task import lineage_enabled
        from airflow_provider_dsjobs.operators import DataSphereJobOperator, LabJobOperator
        from airflow_provider_dsjobs.sensors import DataSphereJobSensor

        with DAG("no_openlineage", schedule=None):
            DataSphereJobOperator(task_id="job", config={"cmd": "true"})
            LabJobOperator(task_id="lab", image="python:3.11-slim")
            DataSphereJobSensor(task_id="watch", job_id="j1")
        assert not lineage_enabled()
        assert get_provider_info()["asset-uris"][0]["schemes"] == ["dsjobs"]
        print("ok")
    """
    done = subprocess.run(
        [sys.executable, "-c", BLOCK_OPENLINEAGE + textwrap.dedent(code)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("ok")
