"""``plan.json``: what a finalizer in another process reads back is what the plan said, typed, without secrets;
and a ``plan.json`` written by the first version of the format still reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_dsjobs.config import config_from_mapping
from airflow_provider_dsjobs.documents.codec import decode, encode
from airflow_provider_dsjobs.documents.plan_doc import PlanDoc
from airflow_provider_dsjobs.jobs.plan import plan_job
from airflow_provider_dsjobs.jobs.plan_doc import plan_doc_of, read_plan_doc, write_plan_doc
from airflow_provider_dsjobs.jobs.store import JobStore
from airflow_provider_dsjobs.settings import Settings
from airflow_provider_dsjobs.storage.base import StoreError
from airflow_provider_dsjobs.storage.local import LocalStore

#: A ``plan.json`` as the first version wrote it (with the ``graceful_signal_number`` nobody read).
FIRST_VERSION = {
    "job_id": "j1",
    "image": "img:1",
    "outputs": [
        {"path": "res/out.txt", "var": None, "container_path": "/job/work/res/out.txt", "local_path": "/cfg/res/o"},
        {"path": "t.csv", "var": "TABLE", "container_path": "/job/outputs/TABLE/t.csv", "local_path": "/cfg/t.csv"},
    ],
    "output_datasets": [
        {
            "name": "set",
            "var": "SET",
            "container_path": "/job/output-datasets/set",
            "description": "d",
            "labels": {"a": "b"},
            "size_bytes": 1024,
        }
    ],
    "graceful_signal": "SIGUSR1",
    "graceful_signal_number": 10,
    "graceful_timeout": 90.0,
    "python_failed_marker": None,
    "python_failed_exit_code": None,
    "labels": {"dag_id": "d"},
}


def test_the_plan_round_trips_through_plan_json(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    config = config_from_mapping(
        {
            "cmd": 'echo "$API_TOKEN" > ${TABLE}',
            "outputs": ["res/out.txt", {"t.csv": "TABLE"}],
            "output-datasets": [{"name": "set", "var": "SET", "size": "1KB", "description": "d"}],
            "graceful-shutdown": {"signal": "SIGUSR1", "timeout": "1m30s"},
            "env": {"vars": [{"API_TOKEN": "tok-secret-value"}]},
        },
        base_dir=tmp_path,
    )
    plan = plan_job(config, Settings(default_image="img:1"), job_id="j1", project="p", labels={"dag_id": "d"})
    doc = plan_doc_of(plan)
    text = encode(doc.to_doc())
    assert b"tok-secret-value" not in text  # values never; the name only as one the stored log masks
    assert decode(text)["secret_env"] == ["API_TOKEN"] and text.count(b"API_TOKEN") == 1
    back = PlanDoc.from_doc(decode(text))
    assert back == doc
    assert [o.key for o in back.outputs] == ["res/out.txt", "TABLE"]
    assert back.outputs[1].local_path == tmp_path / "t.csv"
    assert (back.graceful_signal, back.graceful_timeout) == ("SIGUSR1", 90.0)
    assert back.output_datasets[0].labels == () and back.output_datasets[0].size_bytes == 1024
    assert back.labels == {"dag_id": "d"}  # the job id and project labels are the record's, not repeated


def test_a_first_version_plan_json_still_reads() -> None:
    doc = PlanDoc.from_doc(decode(json.dumps(FIRST_VERSION)))
    assert [(o.key, o.container_path, o.local_path) for o in doc.outputs] == [
        ("res/out.txt", "/job/work/res/out.txt", Path("/cfg/res/o")),
        ("TABLE", "/job/outputs/TABLE/t.csv", Path("/cfg/t.csv")),
    ]
    assert doc.output_datasets[0].labels == (("a", "b"),)
    assert (doc.graceful_signal, doc.graceful_timeout, doc.python_failed_marker) == ("SIGUSR1", 90.0, None)
    assert "graceful_signal_number" not in doc.to_doc()


def test_a_missing_plan_has_no_outputs_and_a_corrupt_one_is_one_line(tmp_path: Path) -> None:
    jobs = JobStore(LocalStore(tmp_path / "store"), "p")
    assert read_plan_doc(jobs, "j2") == PlanDoc(job_id="j2")
    jobs.store.put_bytes(jobs.plan_key("j3"), b'{"outputs": [{"path": "x"}]}')
    with pytest.raises(StoreError, match=r"job plan .*plan.json is corrupt"):
        read_plan_doc(jobs, "j3")
    config = config_from_mapping({"cmd": "true", "outputs": ["o.txt"]}, base_dir=tmp_path)
    plan = plan_job(config, Settings(default_image="img:1"), job_id="j4", project="p")
    write_plan_doc(jobs, plan)
    assert read_plan_doc(jobs, "j4") == plan_doc_of(plan)
