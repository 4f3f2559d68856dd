"""DataSphereJobsHook: connection → Settings (env-var connections resolved by Airflow's own secrets backends)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from airflow_provider_dsjobs.compat import AirflowFailException, redact
from airflow_provider_dsjobs.documents.record import JobRecord
from airflow_provider_dsjobs.hooks import DataSphereJobsHook
from airflow_provider_dsjobs.jobs.service import JobService
from airflow_provider_dsjobs.resources.secrets import SecretsError
from airflow_provider_dsjobs.settings import DEFAULT_IMAGE, DEFAULT_PROJECT
from tests.airflow.hooks.helpers import set_conn

pytestmark = pytest.mark.airflow


def test_class_attributes() -> None:
    assert DataSphereJobsHook.conn_type == "dsjobs"
    assert DataSphereJobsHook.default_conn_name == "dsjobs_default"
    assert DataSphereJobsHook.conn_name_attr == "dsjobs_conn_id"
    assert DataSphereJobsHook.hook_name == "DataSphere Jobs"


def test_no_connection_uses_embedded_defaults(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = DataSphereJobsHook().get_settings()
    assert settings.store_url is None
    assert settings.effective_store_url == (tmp_path / "home" / "store").resolve().as_uri()
    assert settings.project == DEFAULT_PROJECT
    assert settings.default_image == DEFAULT_IMAGE
    assert settings.allowed_secret_ids == ()
    assert isinstance(DataSphereJobsHook().get_conn(), JobService)


def test_no_connection_uses_dsjobs_environment(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("DSJOBS_STORE", "s3://bucket/prefix")
    clean_env.setenv("DSJOBS_PROJECT", "envproj")
    clean_env.setenv("DSJOBS_DEFAULT_IMAGE", "img:1")
    settings = DataSphereJobsHook().get_settings()
    assert (settings.store_url, settings.project, settings.default_image) == ("s3://bucket/prefix", "envproj", "img:1")


def test_connection_extras_override_environment(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("DSJOBS_PROJECT", "envproj")
    clean_env.setenv("DSJOBS_DEFAULT_IMAGE", "from-env:1")
    set_conn(
        clean_env,
        "ds",
        conn_type="dsjobs",
        login="AKID",
        password="s3cret-key-value",
        extra={
            "store_url": "s3://b/p",
            "project": "connproj",
            "endpoint_url": "http://127.0.0.1:9000",
            "region_name": "ru-central1",
            "s3_checksums": "when_supported",
            "local_fsync": "off",
            "docker_url": "tcp://engine:2376",
            "docker_tls_verify": "false",
            "docker_tls_ca_cert": "/certs/ca.pem",
            "extra__dsjobs__python_image_template": "py:{version}",
            "console_url_template": "https://console/{project}/{job_id}",
            "python_interpreter": "/srv/project/.venv/bin/python",
        },
    )
    s = DataSphereJobsHook(dsjobs_conn_id="ds").get_settings()
    assert s.python_interpreter == "/srv/project/.venv/bin/python"
    assert s.store_url == "s3://b/p"
    assert s.project == "connproj"
    assert s.s3_endpoint_url == "http://127.0.0.1:9000"
    assert s.s3_region == "ru-central1"
    assert s.s3_checksums == "when_supported"
    assert s.local_fsync is False
    assert (s.aws_access_key_id, s.aws_secret_access_key) == ("AKID", "s3cret-key-value")
    assert s.docker_url == "tcp://engine:2376"
    assert s.docker_tls_verify is False
    assert s.docker_tls_ca_cert == "/certs/ca.pem"
    assert s.python_image_template == "py:{version}"  # long-form extra name accepted
    assert s.default_image == "from-env:1"  # not on the connection: the environment still applies
    assert "s3cret-key-value" not in repr(s)
    assert "s3cret-key-value" not in str(redact("key s3cret-key-value"))


def test_a_tcp_engine_without_tls_fails_the_task_at_once(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    set_conn(clean_env, "ds", conn_type="dsjobs", extra={"docker_url": "tcp://engine:2375"})
    with pytest.raises(AirflowFailException) as caught:  # a configuration error: never retried
        DataSphereJobsHook(dsjobs_conn_id="ds").get_settings()
    message = str(caught.value)
    assert message.startswith("connection 'ds': refusing the Docker engine at tcp://engine:2375 without TLS")
    assert "docker_allow_insecure: true" in message and "\n" not in message
    ok, said = DataSphereJobsHook(dsjobs_conn_id="ds").test_connection()
    assert not ok and said == message
    clean_env.setenv("DOCKER_HOST", "tcp://engine:2375")  # the fallback to the environment is checked alike
    with pytest.raises(AirflowFailException, match="refusing the Docker engine at tcp://engine:2375"):
        DataSphereJobsHook().get_settings()
    clean_env.delenv("DOCKER_HOST")
    set_conn(
        clean_env, "ds", conn_type="dsjobs", extra={"docker_url": "tcp://engine:2375", "docker_allow_insecure": "1"}
    )
    assert DataSphereJobsHook(dsjobs_conn_id="ds").get_settings().docker_allow_insecure is True
    clean_env.setenv("DOCKER_TLS_VERIFY", "1")  # TLS as the docker CLI reads it from the environment
    clean_env.setenv("DOCKER_CERT_PATH", str(tmp_path))
    set_conn(clean_env, "ds", conn_type="dsjobs", extra={"docker_url": "tcp://engine:2376"})
    assert DataSphereJobsHook(dsjobs_conn_id="ds").get_settings().docker_url == "tcp://engine:2376"


def test_pids_limit_and_insecure_extras_are_checked(clean_env: pytest.MonkeyPatch) -> None:
    assert DataSphereJobsHook().get_settings().pids_limit == 4096
    set_conn(clean_env, "ds", conn_type="dsjobs", extra={"pids_limit": "64"})
    assert DataSphereJobsHook(dsjobs_conn_id="ds").get_settings().pids_limit == 64
    for extra in ({"pids_limit": "lots"}, {"docker_allow_insecure": "perhaps"}):
        set_conn(clean_env, "ds", conn_type="dsjobs", extra=extra)
        with pytest.raises(AirflowFailException) as caught:
            DataSphereJobsHook(dsjobs_conn_id="ds").get_settings()
        assert str(caught.value).startswith("connection 'ds': extra ") and "\n" not in str(caught.value)


def test_missing_named_connection_fails_at_once_naming_it(clean_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(AirflowFailException) as caught:
        DataSphereJobsHook(dsjobs_conn_id="dsjobs_prod_typo").get_settings()
    assert "'dsjobs_prod_typo' does not exist" in str(caught.value)


def test_missing_default_connection_falls_back_with_a_warning(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    DataSphereJobsHook().get_settings()
    out = capsys.readouterr().out  # Airflow's log writes the hook's lines there
    line = next(line for line in out.splitlines() if "No connection 'dsjobs_default'" in line)
    # Logged at warning level: structlog's "[warning" (Airflow 3.1+), the stdlib format's "} WARNING -" (3.0).
    assert "[warning" in line or "} WARNING - " in line


def test_image_pull_policy_from_connection_and_override(clean_env: pytest.MonkeyPatch) -> None:
    set_conn(clean_env, "ds", conn_type="dsjobs", extra={"image_pull_policy": "always"})
    assert DataSphereJobsHook(dsjobs_conn_id="ds").get_settings().image_pull_policy == "always"
    assert DataSphereJobsHook(dsjobs_conn_id="ds", image_pull_policy="never").get_settings().image_pull_policy == (
        "never"
    )
    assert DataSphereJobsHook().get_settings().image_pull_policy == "if-missing"
    set_conn(clean_env, "bad", conn_type="dsjobs", extra={"image_pull_policy": "sometimes"})
    with pytest.raises(AirflowFailException) as caught:
        DataSphereJobsHook(dsjobs_conn_id="bad").get_settings()
    assert "image pull policy must be one of always, if-missing, never, got 'sometimes'" in str(caught.value)


def test_local_fsync_extra_rejects_a_bad_value(clean_env: pytest.MonkeyPatch) -> None:
    set_conn(clean_env, "bad", conn_type="dsjobs", extra={"local_fsync": "sometimes"})
    with pytest.raises(AirflowFailException) as caught:
        DataSphereJobsHook(dsjobs_conn_id="bad").get_settings()
    assert str(caught.value) == (
        "connection 'bad': extra local_fsync must be 1 or 0 (also true/false, yes/no, on/off), got 'sometimes'"
    )


def test_working_storage_check_from_connection(clean_env: pytest.MonkeyPatch) -> None:
    set_conn(clean_env, "ds", conn_type="dsjobs", extra={"working_storage_check": "warn"})
    assert DataSphereJobsHook(dsjobs_conn_id="ds").get_settings().working_storage_check == "warn"
    assert DataSphereJobsHook().get_settings().working_storage_check == "fail"
    set_conn(clean_env, "bad", conn_type="dsjobs", extra={"working_storage_check": "maybe"})
    with pytest.raises(AirflowFailException) as caught:
        DataSphereJobsHook(dsjobs_conn_id="bad").get_settings()
    assert "working storage check must be fail or warn, got 'maybe'" in str(caught.value)


def test_aws_connection_supplies_credentials(clean_env: pytest.MonkeyPatch) -> None:
    set_conn(
        clean_env,
        "my_aws",
        conn_type="aws",
        login="AWSKEY",
        password="aws-secret-value",
        extra={"endpoint_url": "http://s3.local:9000", "region_name": "us-east-1", "aws_session_token": "tok-xyz-123"},
    )
    set_conn(clean_env, "ds", conn_type="dsjobs", extra={"aws_conn_id": "my_aws", "region_name": "eu-1"})
    s = DataSphereJobsHook(dsjobs_conn_id="ds").get_settings()
    assert (s.aws_access_key_id, s.aws_secret_access_key, s.aws_session_token) == (
        "AWSKEY",
        "aws-secret-value",
        "tok-xyz-123",
    )
    assert s.s3_endpoint_url == "http://s3.local:9000"
    assert s.s3_region == "eu-1"  # set on the dsjobs connection: wins over the aws one


def test_aws_role_arn_is_assumed_through_the_amazon_providers_hook(
    clean_env: pytest.MonkeyPatch, moto_server: str
) -> None:
    import airflow.providers.amazon  # noqa: F401  (the dev extra installs it: missing, this test fails, never skips)

    endpoints = {"sts": {"endpoint_url": moto_server}, "s3": {"endpoint_url": moto_server}}
    set_conn(
        clean_env,
        "role_aws",
        conn_type="aws",
        login="AKIDBASE0000",
        password="base-secret",
        extra={
            "role_arn": "arn:aws:iam::123456789012:role/dsjobs",
            "region_name": "us-east-1",
            "service_config": endpoints,
        },
    )
    set_conn(clean_env, "ds", conn_type="dsjobs", extra={"aws_conn_id": "role_aws", "store_url": "s3://role-bucket/x"})
    s = DataSphereJobsHook(dsjobs_conn_id="ds").get_settings()
    # The assumed role's session (its temporary credentials refresh: test_aws_refresh.py), not the connection's keys.
    assert s.aws_session is not None and s.aws_access_key_id is None
    frozen = s.aws_session.get_credentials().get_frozen_credentials()
    assert frozen.access_key != "AKIDBASE0000" and frozen.token
    assert (s.s3_endpoint_url, s.s3_region) == (moto_server, "us-east-1")
    assert frozen.secret_key not in str(redact(f"k {frozen.secret_key}"))


def test_aws_extras_needing_the_amazon_provider_are_refused_without_it(clean_env: pytest.MonkeyPatch) -> None:
    for name in ("airflow.providers.amazon", "airflow.providers.amazon.aws.hooks.base_aws"):
        clean_env.setitem(sys.modules, name, None)  # as if the amazon provider were not installed
    set_conn(clean_env, "role_aws", conn_type="aws", extra={"role_arn": "arn:aws:iam::1:role/r", "profile_name": "p"})
    set_conn(clean_env, "ds", conn_type="dsjobs", extra={"aws_conn_id": "role_aws"})
    with pytest.raises(AirflowFailException) as caught:
        DataSphereJobsHook(dsjobs_conn_id="ds").get_settings()
    assert str(caught.value).startswith("aws connection 'role_aws' uses role_arn, profile_name, which only the amazon")
    set_conn(clean_env, "plain_aws", conn_type="aws", login="AK", password="plain-secret-1")
    set_conn(clean_env, "ds2", conn_type="dsjobs", extra={"aws_conn_id": "plain_aws"})
    s = DataSphereJobsHook(dsjobs_conn_id="ds2").get_settings()
    assert (s.aws_access_key_id, s.aws_secret_access_key) == ("AK", "plain-secret-1")


def test_registry_connection_supplies_pull_credentials(clean_env: pytest.MonkeyPatch) -> None:
    set_conn(clean_env, "reg", conn_type="docker", host="cr.example", login="robot", password="registry-pass-1")
    set_conn(clean_env, "ds", conn_type="dsjobs", extra={"registry_conn_id": "reg"})
    s = DataSphereJobsHook(dsjobs_conn_id="ds").get_settings()
    assert (s.registry_username, s.registry_password) == ("robot", "registry-pass-1")
    assert "registry-pass-1" not in str(redact("pw registry-pass-1"))


def test_secret_resolver_variable_then_connection_password(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("AIRFLOW_VAR_DSJOBS_SECRET_DOCKER_PASSWORD", "from-variable-123")
    set_conn(clean_env, "dsjobs_secret_registry_pw", conn_type="generic", password="from-connection-456")
    resolve = DataSphereJobsHook().secret_resolver
    assert resolve("docker_password") == "from-variable-123"
    assert resolve("registry_pw") == "from-connection-456"
    assert "from-variable-123" not in str(redact("x from-variable-123"))
    assert "from-connection-456" not in str(redact("x from-connection-456"))


def test_secrets_under_names_airflow_does_not_deem_sensitive_are_masked(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("AIRFLOW_VAR_DSJOBS_SECRET_REG", "reg-value-7a6b5c")
    clean_env.setenv("AIRFLOW_VAR_DSJOBS_PROJECT_SECRETS_P1", json.dumps({"REG-KEY": "proj-value-4d3e2f"}))
    set_conn(clean_env, "ds", conn_type="dsjobs", extra={"project": "p1"})
    settings = DataSphereJobsHook(dsjobs_conn_id="ds").get_settings()
    assert settings.resolve_secret("REG") == "reg-value-7a6b5c"
    assert settings.resolve_secret("REG-KEY") == "proj-value-4d3e2f"
    assert str(redact("x reg-value-7a6b5c proj-value-4d3e2f")) == "x *** ***"


def test_secret_id_cannot_name_any_variable_or_connection(clean_env: pytest.MonkeyPatch) -> None:
    """A config or a store entry naming the deployment's own credentials (the store's key in the dsjobs connection,
    an aws connection, another project's secrets Variable) gets a one-line refusal, not the value."""
    set_conn(clean_env, "aws_default", conn_type="aws", login="AK", password="aws-secret-1")
    set_conn(clean_env, "dsjobs_default", conn_type="dsjobs", password="store-secret-2")
    clean_env.setenv("AIRFLOW_VAR_DSJOBS_PROJECT_SECRETS_OTHER", json.dumps({"X": "other-project-3"}))
    clean_env.setenv("AIRFLOW_VAR_DOCKER_PASSWORD", "plain-variable-4")
    settings = DataSphereJobsHook().get_settings()
    assert settings.resolve_secret("nothing_by_this_name") is None
    for name in ("aws_default", "dsjobs_default", "dsjobs_project_secrets_other", "docker_password"):
        with pytest.raises(SecretsError, match="outside DSJOBS_ALLOWED_SECRET_IDS / the connection extra") as info:
            settings.resolve_secret(name)
        assert not any(v in str(info.value) for v in ("aws-secret-1", "store-secret-2", "other-project-3", "plain-"))


def test_allowed_secret_ids_extra_opens_named_variables_and_connections(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("AIRFLOW_VAR_DOCKER_PASSWORD", "plain-variable-4")
    set_conn(clean_env, "registry_pw", conn_type="generic", password="from-connection-456")
    set_conn(clean_env, "aws_default", conn_type="aws", login="AK", password="aws-secret-1")
    set_conn(clean_env, "ds", conn_type="dsjobs", extra={"allowed_secret_ids": "docker_*, registry_pw"})
    settings = DataSphereJobsHook(dsjobs_conn_id="ds").get_settings()
    assert settings.allowed_secret_ids == ("docker_*", "registry_pw")
    assert settings.resolve_secret("docker_password") == "plain-variable-4"
    assert settings.resolve_secret("registry_pw") == "from-connection-456"
    assert settings.resolve_secret("docker_absent") is None
    with pytest.raises(SecretsError, match=r"'aws_default' is outside .* \(now: docker_\*, registry_pw\)"):
        settings.resolve_secret("aws_default")
    clean_env.setenv("DSJOBS_ALLOWED_SECRET_IDS", "docker_*")  # the environment's list, without the extra
    assert DataSphereJobsHook().get_settings().resolve_secret("docker_password") == "plain-variable-4"


def test_job_link_prefers_console_template(clean_env: pytest.MonkeyPatch) -> None:
    set_conn(clean_env, "ds", conn_type="dsjobs", extra={"console_url_template": "https://c/{project}/jobs/{job_id}"})
    record = JobRecord(id="j42", project="p1", logs="file:///x/log.txt")
    assert DataSphereJobsHook(dsjobs_conn_id="ds").job_link(record) == "https://c/p1/jobs/j42"


def test_job_link_falls_back_to_the_jobs_page(clean_env: pytest.MonkeyPatch) -> None:
    set_conn(clean_env, "ds", conn_type="dsjobs", extra={"console_url_template": "https://c/{unknown}"})
    hook = DataSphereJobsHook(dsjobs_conn_id="ds")
    assert hook.job_link(JobRecord(id="j1", project="default")) == "/dsjobs/jobs/j1?conn_id=ds"
    clean_env.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example/")
    assert hook.job_link(JobRecord(id="j1", project="default")) == "https://airflow.example/dsjobs/jobs/j1?conn_id=ds"


def test_project_secrets_come_from_a_json_variable_and_are_masked(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("AIRFLOW_VAR_DSJOBS_PROJECT_SECRETS_P1", json.dumps({"MY-SECRET": "proj-secret-789"}))
    set_conn(clean_env, "ds", conn_type="dsjobs", extra={"project": "p1"})
    settings = DataSphereJobsHook(dsjobs_conn_id="ds").get_settings()
    assert dict(settings.project_secrets(settings)) == {"MY-SECRET": "proj-secret-789"}
    assert settings.resolve_secret("MY-SECRET") == "proj-secret-789"  # secret-id finds project secrets too
    assert "proj-secret-789" not in str(redact("x proj-secret-789"))
    other = DataSphereJobsHook().get_settings()  # project "default": no Variable, no secrets
    assert dict(other.project_secrets(other)) == {}


def test_project_secrets_variable_extra_and_a_bad_variable(clean_env: pytest.MonkeyPatch) -> None:
    from airflow_provider_dsjobs.resources.secrets import SecretsError

    clean_env.setenv("AIRFLOW_VAR_TEAM_SECRETS", "[1, 2]")
    set_conn(clean_env, "ds", conn_type="dsjobs", extra={"project_secrets_variable": "team_secrets"})
    settings = DataSphereJobsHook(dsjobs_conn_id="ds").get_settings()
    with pytest.raises(SecretsError, match="Airflow Variable 'team_secrets' is not a JSON object"):
        settings.project_secrets(settings)


def test_instance_types_from_the_connection_extra(clean_env: pytest.MonkeyPatch) -> None:
    extra = {"instance_types": {"gpu.a100": {"cpus": 16, "memory": "120Gi", "gpus": 1, "gpu-model": "A100"}}}
    set_conn(clean_env, "ds", conn_type="dsjobs", extra=extra)
    catalog = DataSphereJobsHook(dsjobs_conn_id="ds").get_settings().instance_catalog
    assert catalog["gpu.a100"].gpu_model == "A100" and "c1.4" in catalog
    set_conn(clean_env, "bad", conn_type="dsjobs", extra={"instance_types": {"x": {"cpus": 1}}})
    with pytest.raises(AirflowFailException, match="connection 'bad' extra instance_types: x: `memory` is required"):
        DataSphereJobsHook(dsjobs_conn_id="bad").get_settings()


@pytest.mark.parametrize("value", ["{not json", "[1, 2]", '"text"', "7"])
@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("engines", "extra engines (is not a JSON object: it )?must be an object of engine names and addresses$"),
        ("s3_connectors", 'extra s3_connectors (is not a JSON object: it )?must be an object {"<ID>": "<conn id>"}$'),
        ("instance_types", "extra instance_types (is not a JSON object: it )?must be an object of instance type names"),
    ],
)
def test_an_extra_that_is_no_json_object_fails_in_one_line(
    clean_env: pytest.MonkeyPatch, name: str, said: str, value: str
) -> None:
    set_conn(clean_env, "bad", conn_type="dsjobs", extra={name: value})
    with pytest.raises(AirflowFailException, match=r"^connection 'bad'.* " + said.replace("{", r"\{")) as info:
        DataSphereJobsHook(dsjobs_conn_id="bad").get_settings()
    assert "\n" not in str(info.value)


def test_lab_code_roots_extra(clean_env: pytest.MonkeyPatch) -> None:
    set_conn(clean_env, "ds", conn_type="dsjobs", extra={"lab_code_roots": ["/opt/airflow/dags/jobs", "/srv/code"]})
    assert DataSphereJobsHook(dsjobs_conn_id="ds").get_settings().lab_code_roots == (
        "/opt/airflow/dags/jobs",
        "/srv/code",
    )
    set_conn(clean_env, "ds", conn_type="dsjobs", extra={"lab_code_roots": "/a:jobs"})
    with pytest.raises(AirflowFailException, match="extra lab_code_roots: 'jobs' is not an absolute directory"):
        DataSphereJobsHook(dsjobs_conn_id="ds").get_settings()
    assert DataSphereJobsHook().get_settings().lab_code_roots == ()  # none by default


def test_engine_name_and_engine_map_from_connection_and_environment(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("DSJOBS_ENGINE_NAME", "from-env")
    clean_env.setenv("DSJOBS_ENGINES", json.dumps({"env-b": "tcp://b:2376"}))
    settings = DataSphereJobsHook().get_settings()
    assert settings.engine_name == "from-env" and settings.engines["env-b"].url == "tcp://b:2376"
    engines = {"worker-b": {"url": "tcp://b:2376", "tls_ca_cert": "/certs/ca.pem", "tls_verify": "yes"}}
    set_conn(clean_env, "ds", conn_type="dsjobs", extra={"engine_name": "worker-a", "engines": engines})
    settings = DataSphereJobsHook(dsjobs_conn_id="ds").get_settings()
    assert settings.engine_name == "worker-a" and list(settings.engines) == ["worker-b"]
    assert (settings.engines["worker-b"].url, settings.engines["worker-b"].tls_ca_cert) == (
        "tcp://b:2376",
        "/certs/ca.pem",
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"engine_name": "a b;rm -rf /"}, "engine name 'a b;rm -rf /' is not allowed: use 1-63 letters, digits"),
        ({"engines": {"../x\n": "tcp://b:1"}}, "extra engines: engine name '../x\\n' is not allowed"),
        ({"engines": {"b": {"url": "tcp://b:1", "tls_key_pem": "-----BEGIN"}}}, "unknown keys 'tls_key_pem'"),
        ({"engines": {"b": {}}}, "extra engines: engine b needs a url"),
        ({"engines": "{not json"}, "extra engines is not a JSON object"),
    ],
)
def test_a_bad_engine_setting_is_one_line_naming_the_connection(
    clean_env: pytest.MonkeyPatch, extra: dict[str, object], message: str
) -> None:
    set_conn(clean_env, "bad", conn_type="dsjobs", extra=extra)
    with pytest.raises(AirflowFailException) as caught:
        DataSphereJobsHook(dsjobs_conn_id="bad").get_settings()
    assert str(caught.value).startswith("connection 'bad': ") and message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_input_limit_extras_are_sizes(clean_env: pytest.MonkeyPatch) -> None:
    settings = DataSphereJobsHook().get_settings()
    assert (settings.max_input_file_size, settings.max_job_input_size) == (5 << 30, 10 << 30)
    set_conn(clean_env, "ds", conn_type="dsjobs", extra={"max_input_file_size": "20GB", "max_job_input_size": 1024})
    settings = DataSphereJobsHook(dsjobs_conn_id="ds").get_settings()
    assert (settings.max_input_file_size, settings.max_job_input_size) == (20 << 30, 1024)
    for extra in ({"max_input_file_size": "5G"}, {"max_job_input_size": "0"}):
        set_conn(clean_env, "ds", conn_type="dsjobs", extra=extra)
        with pytest.raises(AirflowFailException) as caught:
            DataSphereJobsHook(dsjobs_conn_id="ds").get_settings()
        name = next(iter(extra))
        assert str(caught.value).startswith(f"connection 'ds': extra {name}") and "\n" not in str(caught.value)
