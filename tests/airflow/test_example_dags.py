"""The example DAGs parse, are the ones CI runs (scripts/example-dags.txt), and use only public import paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_dsjobs.operators import DataSphereJobOperator
from tests.airflow.helpers import REPO, dag_bag

pytestmark = pytest.mark.airflow

EXAMPLES = REPO / "dags_examples"


@pytest.fixture(scope="module")
def bag() -> object:
    return dag_bag(EXAMPLES)


def test_examples_import_cleanly(bag: object) -> None:
    assert bag.import_errors == {}  # type: ignore[attr-defined]


def test_ci_list_matches_the_examples(bag: object) -> None:
    text = (REPO / "scripts" / "example-dags.txt").read_text()
    listed = [line.split("#")[0].strip() for line in text.splitlines() if line.split("#")[0].strip()]
    assert sorted(listed) == sorted(bag.dag_ids)  # type: ignore[attr-defined]
    assert {"dsjobs_quickstart", "dsjobs_pipeline", "dsjobs_scheduled", "dsjobs_ui_triggered",
            "dsjobs_deferrable", "dsjobs_sensor"} <= set(listed)  # fmt: skip


def test_every_config_path_exists(bag: object) -> None:
    for dag in bag.dags.values():  # type: ignore[attr-defined]
        for op in dag.tasks:
            if isinstance(op, DataSphereJobOperator) and isinstance(op.config, str):
                assert (Path(dag.folder) / op.config).is_file(), (dag.dag_id, op.task_id, op.config)


def test_quickstart_needs_no_connection(bag: object) -> None:
    dag = bag.get_dag("dsjobs_quickstart")  # type: ignore[attr-defined]
    (op,) = dag.tasks
    assert op.dsjobs_conn_id == "dsjobs_default"


def test_scheduled_has_a_cron_schedule(bag: object) -> None:
    assert bag.get_dag("dsjobs_scheduled").schedule == "0 3 * * *"  # type: ignore[attr-defined]
