"""Provider metadata: valid against Airflow's own schema, every class path imports, Airflow discovers it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import import_module
from importlib.resources import files
from typing import Any

import jsonschema
import pytest
from packaging.version import Version

from airflow_provider_dsjobs.compat import AIRFLOW_VERSION
from airflow_provider_dsjobs.get_provider_info import get_provider_info
from tests.airflow.helpers import task_runtime_hooks

pytestmark = pytest.mark.airflow


def import_path(dotted: str) -> Any:
    module, _, name = dotted.rpartition(".")
    return getattr(import_module(module), name)


def test_valid_against_airflow_provider_info_schema() -> None:
    schema = json.loads(files("airflow").joinpath("provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)


def test_every_listed_module_and_class_imports() -> None:
    info = get_provider_info()
    integrations = {i["integration-name"] for i in info["integrations"]}
    for section in ("operators", "sensors", "hooks", "triggers"):
        for entry in info[section]:
            assert entry["integration-name"] in integrations
            for module in entry["python-modules"]:
                import_module(module)
    for link in info["extra-links"]:
        assert import_path(link)().name == "DataSphere Job"
    for conn in info["connection-types"]:
        hook = import_path(conn["hook-class-name"])
        assert hook.conn_type == conn["connection-type"] == "dsjobs"
    for uris in info["asset-uris"]:
        assert callable(import_path(uris["handler"]))
        assert callable(import_path(uris["factory"]))
        assert callable(import_path(uris["to_openlineage_converter"]))


def test_public_import_paths() -> None:
    from airflow_provider_dsjobs.hooks import DataSphereJobsHook
    from airflow_provider_dsjobs.operators import DataSphereJobOperator
    from airflow_provider_dsjobs.sensors import DataSphereJobSensor
    from airflow_provider_dsjobs.triggers import DataSphereJobTrigger

    assert DataSphereJobOperator.__module__ == "airflow_provider_dsjobs.operators.job"
    assert DataSphereJobSensor.__module__ == "airflow_provider_dsjobs.sensors.job"
    assert DataSphereJobsHook.__module__ == "airflow_provider_dsjobs.hooks.dsjobs"
    assert DataSphereJobTrigger.__module__ == "airflow_provider_dsjobs.triggers.job"


def test_connection_form_fields() -> None:
    conn = get_provider_info()["connection-types"][0]
    fields = conn["conn-fields"]
    expected = {
        "store_url", "project", "endpoint_url", "region_name", "aws_conn_id", "aws_session_token", "docker_url",
        "docker_tls_ca_cert", "docker_tls_client_cert", "docker_tls_client_key", "docker_tls_verify",
        "docker_network", "registry_conn_id", "default_image", "python_image_template", "console_url_template",
        "lab_endpoint", "lab_api_token", "project_secrets_variable", "docker_conn_id", "image_pull_policy",
        "s3_connectors", "spark_connectors", "working_storage_check", "pids_limit", "docker_allow_insecure",
        "engine_name", "engines", "max_input_file_size", "max_job_input_size", "s3_checksums", "local_fsync",
        "python_interpreter", "instance_types", "allowed_secret_ids", "lab_code_roots",
        "cache_max_age_days", "cache_budget", "lazy_mounts", "s3fs_image", "lazy_mount_root",
    }  # fmt: skip
    assert set(fields) == expected
    secret = {name for name, f in fields.items() if f["schema"].get("format") == "password"}
    assert secret == {"aws_session_token", "lab_api_token"}
    behaviour = conn["ui-field-behaviour"]
    assert behaviour["relabeling"] == {"login": "S3 access key ID", "password": "S3 secret access key"}
    assert set(behaviour["hidden-fields"]) == {"host", "port", "schema"}


def test_providers_manager_loads_connection_form() -> None:
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert "airflow-provider-dsjobs" in manager.providers
    hook = task_runtime_hooks()["dsjobs"]
    assert hook is not None
    assert hook.hook_class_name == "airflow_provider_dsjobs.hooks.dsjobs.DataSphereJobsHook"
    assert hook.connection_id_attribute_name == "dsjobs_conn_id"
    widgets = manager.connection_form_widgets
    if Version("3.2") <= AIRFLOW_VERSION:  # the connection form's fields come from the provider info's conn-fields
        assert "extra__dsjobs__store_url" in widgets
        assert widgets["extra__dsjobs__aws_session_token"].is_sensitive
    else:  # 3.0, 3.1: no conn-fields; the form is the generic one (docs/howto/airflow-versions.md)
        assert not [name for name in widgets if name.startswith("extra__dsjobs__")]


def test_airflow_providers_list_shows_it() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "airflow", "providers", "list", "-o", "json"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        check=True,
    ).stdout
    listed = {p["package_name"]: p for p in json.loads(out[out.index("[{") :])}  # after any log lines
    assert listed["airflow-provider-dsjobs"]["version"] == "0.1.0"


def test_config_section_lists_the_dsjobs_options_read() -> None:
    from airflow_provider_dsjobs.plugins import streams

    options = get_provider_info()["config"]["dsjobs"]["options"]
    assert set(options) == {"max_log_follows", "log_follow_seconds"}
    assert int(options["max_log_follows"]["default"]) == streams.DEFAULT_MAX_FOLLOWS
    assert float(options["log_follow_seconds"]["default"]) == streams.DEFAULT_FOLLOW_SECONDS
    source = (files("airflow_provider_dsjobs") / "plugins" / "streams.py").read_text()
    for key in options:
        assert f'"{key}"' in source  # an option the provider really reads


def test_config_section_values_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_dsjobs.plugins import streams

    monkeypatch.delenv("DSJOBS_MAX_LOG_FOLLOWS", raising=False)
    monkeypatch.setenv("AIRFLOW__DSJOBS__MAX_LOG_FOLLOWS", "7")
    assert streams.max_follows() == 7


def test_task_decorator_entry_imports() -> None:
    (decorator,) = get_provider_info()["task-decorators"]
    assert decorator["name"] == "dsjobs"
    assert callable(import_path(decorator["class-name"]))


def test_airflow_providers_get_shows_package_and_config() -> None:
    command = [sys.executable, "-m", "airflow", "providers", "get", "airflow-provider-dsjobs", "-f", "-o", "json"]
    out = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy(), check=True).stdout
    (shown,) = json.loads(out[out.index("[{") :])  # after any log lines (3.0 logs to stdout)
    assert shown["package-name"] == "airflow-provider-dsjobs"
    assert set(shown["config"]["dsjobs"]["options"]) == {"max_log_follows", "log_follow_seconds"}
    assert shown["task-decorators"][0]["name"] == "dsjobs"
    (uris,) = shown["asset-uris"]
    assert uris["schemes"] == ["dsjobs"]
    assert uris["to_openlineage_converter"] == "airflow_provider_dsjobs.assets.convert_asset_to_openlineage"


def test_openlineage_provider_converts_dsjobs_assets_through_the_registered_converter() -> None:
    """What the OpenLineage provider does with an asset in a task's inlets/outlets: Airflow's providers manager
    finds the converter by scheme and the asset becomes the dataset the operators report."""
    from airflow.providers.openlineage.utils.utils import translate_airflow_asset

    from airflow_provider_dsjobs.assets import create_asset

    dataset = translate_airflow_asset(create_asset(project="team a", name="rows/2024 #1"), lineage_context=None)
    assert dataset is not None
    assert (dataset.namespace, dataset.name) == ("dsjobs://team%20a", "datasets/rows%2F2024%20%231")
