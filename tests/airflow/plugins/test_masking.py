"""The pieces behind what a page viewer reads, without a server: which values are a job's secrets (from its record,
the project's registries and its container's env), the mask that hides them, and error lines scrubbed of
addresses. The api-server tests (``test_viewers.py``) run them end to end."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from airflow_provider_dsjobs.documents.record import JobRecord, JobStatus
from airflow_provider_dsjobs.hooks.job_secrets import connection_secrets, job_secrets
from airflow_provider_dsjobs.jobs.errors import EngineLost, InfrastructureError, JobError
from airflow_provider_dsjobs.plugins.errors import UNREACHABLE, scrub, scrub_fact, shown
from airflow_provider_dsjobs.plugins.masking import mask_pairs, masker_of
from airflow_provider_dsjobs.resources.images import ImageRegistry
from airflow_provider_dsjobs.resources.s3_connectors import ConnectorRegistry
from airflow_provider_dsjobs.resources.spark import SparkRegistry
from airflow_provider_dsjobs.settings import Settings
from airflow_provider_dsjobs.storage.local import LocalStore

pytestmark = pytest.mark.airflow

SECRETS = {
    "registry-pw": "registry-secret-1",
    "image-pw": "image-secret-22",
    "s3-key": "s3-secret-333",
    "spark-token": "spark-secret-4444",
}


def _settings(tmp_path: Path) -> Settings:
    return dataclasses.replace(
        Settings(home=tmp_path),
        project_secrets=lambda _s: {"WAREHOUSE_URI": "project-secret-55555"},
        secret_resolver=SECRETS.get,
        lab_api_token="lab-token-666666",
        registry_password="conn-registry-7777777",
    )


def _record(config: dict[str, object], status: JobStatus = JobStatus.SUCCESS) -> JobRecord:
    return JobRecord(id="j20260101-000000000-abcdefgh", project="default", status=status, config=config)


def test_connection_secrets_are_the_projects_and_the_connections(tmp_path: Path) -> None:
    assert connection_secrets(_settings(tmp_path)) == {
        "project-secret-55555",
        "lab-token-666666",
        "conn-registry-7777777",
    }


def test_job_secrets_resolve_every_secret_id_the_record_names(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    ImageRegistry(store, "default").add(
        "trainer", "example.com/trainer:1", username="bot", password_secret_id="image-pw", password="image-secret-22"
    )
    ConnectorRegistry(store, "default").add("lake", "s3://lake/x", access_key_id="AKIA", secret_key_secret_id="s3-key")
    SparkRegistry(store, "default").add(
        "spark", "sc://spark.example:15002", token_secret_id="spark-token", token="spark-secret-4444"
    )
    settings = _settings(tmp_path)
    with_password = _record(
        {"env": {"docker": {"image": "x:1", "username": "u", "password": {"secret-id": "registry-pw"}}}}
    )
    registered = _record(
        {"env": {"docker": {"image": "trainer"}}, "s3-mounts": [{"id": "lake"}], "spark": {"connector": "spark"}}
    )
    base = connection_secrets(settings)
    assert job_secrets(settings, with_password, store) == base | {"registry-secret-1"}
    assert job_secrets(settings, registered, store) == base | {"image-secret-22", "s3-secret-333", "spark-secret-4444"}
    # Ids that resolve to nothing, hostile shapes and a lab job's config add nothing and do not fail.
    odd = _record({"env": {"docker": {"image": "../../x", "password": {"secret-id": "missing"}}}, "s3-mounts": [3]})
    assert job_secrets(settings, odd, store) == base
    lab = dataclasses.replace(registered, kind="lab")
    assert job_secrets(settings, lab, store) == base


def test_the_containers_env_adds_secret_looking_and_project_secret_names(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    env = {
        "HF_TOKEN": "hf-value-12345",
        "DB_PASSWORD": "db-value-12345",
        "WAREHOUSE_URI": "project-secret-55555",
        "GREETING": "hello-world",
        "API_KEY": "***",
        "TOKENIZERS_PARALLELISM": "false",
    }
    found = job_secrets(settings, _record({}, JobStatus.EXECUTING), None, env)
    assert {"hf-value-12345", "db-value-12345"} <= found
    assert "hello-world" not in found and "***" not in found and "false" not in found


def test_the_mask_hides_each_value_whole_and_leaves_the_rest() -> None:
    mask = masker_of(["secret-abc", "secret-abcdef", "abc"])
    assert mask("x secret-abcdef y secret-abc z abc") == "x *** y *** z abc"  # shorter than 5: as the task log
    assert list(mask_pairs([("stdout", "a secret-abc"), ("stderr", "none")], mask)) == [
        ("stdout", "a ***"),
        ("stderr", "none"),
    ]
    assert masker_of([])("secret-abc") == "secret-abc"
    assert masker_of(["a.b*c(d"])("see a.b*c(d now") == "see *** now"  # a value is text, not a pattern


@pytest.mark.parametrize(
    "message",
    [
        "cannot reach S3 endpoint http://10.0.0.5:9000 for s3://hidden-bucket/prefix: check the endpoint URL",
        "job j1 not found in project p (file:///srv/airflow/dsjobs/store)",
        "Docker engine tcp://10.1.2.3:2376 refused: unix:///var/run/docker.sock missing",
        "cannot open /home/airflow/.dsjobs/store/jobs/j1/record.json: permission denied",
    ],
)
def test_error_lines_keep_no_address_or_path(message: str) -> None:
    shown_line = scrub(message, ["s3://hidden-bucket/prefix"])
    for leak in ("://", "10.0.0.5", "hidden-bucket", "/srv", "/home", "docker.sock", "10.1.2.3"):
        assert leak not in shown_line
    assert "<hidden>" in shown_line
    assert shown(InfrastructureError(message), "listing") == UNREACHABLE
    assert shown(EngineLost(message), "listing") == UNREACHABLE
    assert "://" not in shown(JobError(message), "reading")


def test_job_messages_keep_the_mounts_bucket_but_no_address() -> None:
    text = "syncing s3-mount lake back to s3://lake-bucket/ckpt failed: Could not connect to http://10.0.0.5:9000/x"
    assert scrub_fact(text, ["s3://store-bucket/jobs"]) == (
        "syncing s3-mount lake back to s3://lake-bucket/ckpt failed: Could not connect to <hidden>"
    )
    assert scrub_fact("store s3://store-bucket/jobs/j1 gone", ["s3://store-bucket/jobs"]) == "store <hidden>/j1 gone"
