"""DataSphereJobLink: name, persistence under the link's own XCom key (read back in test_dag_run.py)."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_dsjobs.links import DataSphereJobLink
from airflow_provider_dsjobs.operators import DataSphereJobOperator
from tests.airflow.helpers import TaskInstanceStandIn, make_context

pytestmark = pytest.mark.airflow


def test_name_and_key() -> None:
    link = DataSphereJobLink()
    assert link.name == "DataSphere Job"
    assert link.xcom_key == "_link_DataSphereJobLink"


def test_persist_pushes_url_under_link_key() -> None:
    ti = TaskInstanceStandIn()
    DataSphereJobLink.persist(make_context(ti), "https://console/p/jobs/j1")
    assert ti.xcoms == {"_link_DataSphereJobLink": "https://console/p/jobs/j1"}


def test_persist_without_url_pushes_nothing() -> None:
    ti = TaskInstanceStandIn()
    DataSphereJobLink.persist(make_context(ti), None)
    assert ti.xcoms == {}


def test_operator_declares_the_link() -> None:
    assert any(isinstance(link, DataSphereJobLink) for link in DataSphereJobOperator.operator_extra_links)


def test_get_link_uses_the_link_the_operator_recorded() -> None:
    op = DataSphereJobOperator(task_id="t", config="x.yaml")
    key: Any = None  # not consulted: the operator that ran knows its link
    assert DataSphereJobLink().get_link(op, ti_key=key) == ""  # failed before a job existed: no link, no lookup
    op.job_link = "https://console/p/jobs/j9"
    assert DataSphereJobLink().get_link(op, ti_key=key) == "https://console/p/jobs/j9"
