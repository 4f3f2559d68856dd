"""Provider metadata read by Airflow's ProvidersManager (entry point ``apache_airflow_provider``).

Airflow reads ``conn-fields`` and ``ui-field-behaviour`` from here to build the ``dsjobs`` connection form
(Airflow 3.2+), without importing the hook.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_dsjobs import __version__

INTEGRATION = "DataSphere Jobs"


def _text(label: str, description: str, **schema: Any) -> dict[str, Any]:
    return {"label": label, "description": description, "schema": {"type": ["string", "null"], **schema}}


def _secret(label: str, description: str) -> dict[str, Any]:
    return _text(label, description, format="password")


CONN_FIELDS: dict[str, Any] = {
    "store_url": _text(
        "Store URL",
        "Where job data lives: s3://bucket/prefix, or file:///path for a local directory. "
        "Empty: a local directory under DSJOBS_HOME (~/.dsjobs).",
    ),
    "project": _text(
        "Project", "Project name: the namespace of jobs, cache and datasets in the store (default: default)."
    ),
    "endpoint_url": _text("S3 endpoint URL", "S3-compatible endpoint, e.g. https://storage.yandexcloud.net."),
    "region_name": _text("S3 region", "S3 region name, e.g. ru-central1."),
    "aws_conn_id": _text(
        "AWS connection ID",
        "Take S3 credentials (and endpoint/region when not set here) from this existing 'aws' connection "
        "instead of the login/password fields. With apache-airflow-providers-amazon installed the whole "
        "connection is honoured (role_arn, profile, assume-role) through its AwsBaseHook.",
    ),
    "aws_session_token": _secret("S3 session token", "Temporary-credentials session token."),
    "s3_checksums": {
        "label": "S3 checksums",
        "description": "When boto3 adds CRC checksums to S3 requests: when_required (default: what S3-compatible "
        "stores accept) or when_supported (boto3's own default).",
        "schema": {"type": ["string", "null"], "enum": ["when_required", "when_supported", None]},
    },
    "local_fsync": {
        "label": "fsync a local store",
        "description": "On (default): a file:// store fsyncs every object it writes. Off: faster, but the last "
        "seconds of writes may be lost in a crash.",
        "schema": {"type": ["boolean", "null"], "default": True},
    },
    "docker_url": _text(
        "Docker URL", "Docker engine: unix:///var/run/docker.sock or tcp://host:2376. Empty: DOCKER_HOST or local."
    ),
    "docker_tls_ca_cert": _text("Docker TLS CA certificate", "Path of the CA certificate for a tcp:// engine."),
    "docker_tls_client_cert": _text("Docker TLS client certificate", "Path of the client certificate."),
    "docker_tls_client_key": _text("Docker TLS client key", "Path of the client key."),
    "docker_tls_verify": {
        "label": "Verify Docker TLS",
        "description": "Verify the engine's certificate against the CA.",
        "schema": {"type": ["boolean", "null"], "default": True},
    },
    "docker_allow_insecure": {
        "label": "Allow a tcp:// engine without TLS",
        "description": "Off (default): a tcp:// Docker URL without TLS files is refused, since anyone on the network "
        "could then run containers on that engine. On: allow it (a trusted network only).",
        "schema": {"type": ["boolean", "null"], "default": False},
    },
    "engine_name": _text(
        "Engine name",
        "The name this machine's Docker engine goes by in job records (letters, digits, '.', '_', '-'). Empty: "
        "the engine's host name.",
    ),
    "engines": _text(
        "Other engines",
        'JSON object: engine name → {"url": "tcp://host:2376", "tls_ca_cert": ..., "tls_client_cert": ..., '
        '"tls_client_key": ...} (paths). A job running on one of them is read there; on an engine not listed it '
        "is left alone.",
    ),
    "docker_network": _text("Docker network", "Network for job containers (empty: the engine's default bridge)."),
    "lazy_mounts": {
        "label": "Lazy S3 mounts",
        "description": "Off (default): an s3-mount that asks to be lazy is an engine cache like every read-only one. "
        "On: it is an s3fs FUSE mount that fetches only what the job reads (needs /dev/fuse, the s3fs image and a "
        "shared mount root on the engine host; DSJOBS_LAZY_MOUNTS).",
        "schema": {"type": ["boolean", "null"], "default": False},
    },
    "s3fs_image": _text("s3fs image", "The image with s3fs that lazy S3 mounts' helpers run (DSJOBS_S3FS_IMAGE)."),
    "lazy_mount_root": _text(
        "Lazy mount root",
        "A directory of the engine host, a shared mount, under which lazy S3 mounts live (default "
        "/var/lib/dsjobs/lazy-mounts; DSJOBS_LAZY_MOUNT_ROOT).",
    ),
    "pids_limit": {
        "label": "Process limit per container",
        "description": "--pids-limit of every job container (default 4096; 0 or -1: no limit).",
        "schema": {"type": ["integer", "null"]},
    },
    "max_input_file_size": _text(
        "Largest input file",
        "A job's input file may be at most this large, e.g. 5GB (the default) or 500MB; a larger one fails the "
        "submit before anything is uploaded (DSJOBS_MAX_INPUT_FILE_SIZE).",
    ),
    "max_job_input_size": _text(
        "Largest total of a job's inputs",
        "All inputs of one job may add up to at most this, e.g. 10GB (the default) or 50GB "
        "(DSJOBS_MAX_JOB_INPUT_SIZE).",
    ),
    "cache_max_age_days": _text(
        "Engine cache max age (days)",
        "dsjobs gc removes engine cache volumes (Python environments, datasets, S3 mounts, ML Lab /data, project "
        "disks) no job used for this many days: 30 (the default), 0.5, or never (DSJOBS_CACHE_MAX_AGE_DAYS).",
    ),
    "cache_budget": _text(
        "Engine cache budget",
        "dsjobs gc removes the least recently used engine cache volumes of the project while they hold more than "
        "this, e.g. 50Gi or 50GB (default: none, no budget; DSJOBS_CACHE_BUDGET).",
    ),
    "docker_conn_id": _text(
        "Docker connection ID",
        "An Airflow 'docker' connection (registry URL, login, password, reauth, email) read through the docker "
        "provider's DockerHook, which logs the engine in to that registry before image pulls.",
    ),
    "image_pull_policy": {
        "label": "Image pull policy",
        "description": "When to pull a job's image: always, if-missing (default) or never.",
        "schema": {"type": ["string", "null"], "enum": ["always", "if-missing", "never", None]},
    },
    "working_storage_check": {
        "label": "Working storage check",
        "description": "A job whose working-storage does not fit in the engine's free space (on a storage driver "
        "that cannot cap containers): fail (default) or warn and run it anyway.",
        "schema": {"type": ["string", "null"], "enum": ["fail", "warn", None]},
    },
    "registry_conn_id": _text(
        "Registry connection ID", "A connection whose login/password authenticate image pulls from a registry."
    ),
    "default_image": _text("Default image", "Image for jobs without env.docker and env.python (python:3.11-slim)."),
    "python_image_template": _text(
        "Python image template",
        "Image for a job's env.python version; {version} is major.minor (python:{version}-slim).",
    ),
    "python_interpreter": _text(
        "Project Python on the worker",
        "An interpreter or virtualenv on the worker whose packages pin python: auto imports (empty: the one "
        "running Airflow).",
    ),
    "instance_types": _text(
        "Instance types",
        "JSON object: your own instance types, the same mapping as a DSJOBS_INSTANCE_TYPES file; they add to the "
        "built-in ones or replace them by name.",
    ),
    "allowed_secret_ids": _text(
        "Secret IDs allowed outside the project",
        "Comma-separated glob patterns of secret-id values that may also name an Airflow Variable or Connection "
        "of that very name (empty: none).",
    ),
    "lab_code_roots": _text(
        "ML Lab code roots",
        "Colon-separated absolute directories where a run-time EXECUTE_CODE may name local code (empty: none).",
    ),
    "project_secrets_variable": _text(
        "Project secrets Variable",
        "Airflow Variable holding the project's secrets as a JSON object {NAME: value}; every job gets them as "
        "env vars (default: dsjobs_project_secrets_<project>).",
    ),
    "s3_connectors": _text(
        "S3 connectors",
        'JSON object: s3-mounts ID → Airflow aws connection id, or {"conn_id": ..., "url": "s3://bucket/prefix"}. '
        "Without an entry an ID is looked up as the connection dsjobs_s3_<ID>, then in the project's registry.",
    ),
    "spark_connectors": _text(
        "Spark connectors",
        "JSON object: spark.connector ID → Airflow spark_connect connection id. Without an entry an ID is looked "
        "up as the connection dsjobs_spark_<ID>, then in the project's registry.",
    ),
    "console_url_template": _text(
        "Console URL template",
        "Link shown as 'DataSphere Job' on the task, e.g. https://console.example/{project}/jobs/{job_id}. "
        "Empty: the job's page in this Airflow UI (/dsjobs/jobs/<id>).",
    ),
    "lab_endpoint": _text("ML Lab endpoint", "Given to ML Lab jobs as LAB_ENDPOINT (LabJobOperator)."),
    "lab_api_token": _secret("ML Lab API token", "Given to ML Lab jobs as LAB_API_TOKEN; masked, never stored."),
}

UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["host", "port", "schema"],
    "relabeling": {"login": "S3 access key ID", "password": "S3 secret access key"},
    "placeholders": {
        "login": "empty: aws_conn_id, or the standard AWS environment/credential chain",
        "store_url": "s3://my-bucket/dsjobs",
        "docker_url": "unix:///var/run/docker.sock",
        "console_url_template": "https://console.example/{project}/jobs/{job_id}",
    },
}


#: The ``[dsjobs]`` options of Airflow's config the provider reads (``plugins.streams``; a ``DSJOBS_*``
#: environment variable of the same meaning wins over each).
CONFIG: dict[str, Any] = {
    "dsjobs": {
        "description": "Settings of the DataSphere Jobs provider's Jobs page in the api-server.",
        "options": {
            "max_log_follows": {
                "description": "Live log streams (Jobs page 'follow') one api-server process serves at once; "
                "one more is refused until a stream ends. DSJOBS_MAX_LOG_FOLLOWS wins over it.",
                "version_added": "0.1.0",
                "type": "integer",
                "example": "32",
                "default": "16",
            },
            "log_follow_seconds": {
                "description": "How long one live log stream (Jobs page 'follow') lasts, in seconds, before it ends. "
                "DSJOBS_LOG_FOLLOW_SECONDS wins over it.",
                "version_added": "0.1.0",
                "type": "float",
                "example": "600",
                "default": "300",
            },
        },
    }
}


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-provider-dsjobs",
        "name": "DataSphere Jobs",
        "description": "Run DataSphere Jobs `config.yaml` files as Docker containers with inputs and outputs "
        "staged through S3: operator, sensor, deferrable trigger, extra link and output-dataset assets.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": INTEGRATION,
                "external-doc-url": "https://yandex.cloud/docs/datasphere/concepts/jobs/",
                "tags": ["software"],
            }
        ],
        "operators": [
            {
                "integration-name": INTEGRATION,
                "python-modules": ["airflow_provider_dsjobs.operators.job", "airflow_provider_dsjobs.operators.lab"],
            }
        ],
        "sensors": [{"integration-name": INTEGRATION, "python-modules": ["airflow_provider_dsjobs.sensors.job"]}],
        "hooks": [{"integration-name": INTEGRATION, "python-modules": ["airflow_provider_dsjobs.hooks.dsjobs"]}],
        "triggers": [{"integration-name": INTEGRATION, "python-modules": ["airflow_provider_dsjobs.triggers.job"]}],
        "extra-links": ["airflow_provider_dsjobs.links.job.DataSphereJobLink"],
        "config": CONFIG,
        "task-decorators": [{"name": "dsjobs", "class-name": "airflow_provider_dsjobs.decorators.dsjobs.dsjobs_task"}],
        "connection-types": [
            {
                "connection-type": "dsjobs",
                "hook-class-name": "airflow_provider_dsjobs.hooks.dsjobs.DataSphereJobsHook",
                "hook-name": "DataSphere Jobs",
                "conn-fields": CONN_FIELDS,
                "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
            }
        ],
        "asset-uris": [
            {
                "schemes": ["dsjobs"],
                "handler": "airflow_provider_dsjobs.assets.sanitize_uri",
                # Used by the OpenLineage provider (the ``openlineage`` extra) for assets in inlets/outlets.
                "to_openlineage_converter": "airflow_provider_dsjobs.assets.convert_asset_to_openlineage",
                "factory": "airflow_provider_dsjobs.assets.create_asset",
            }
        ],
    }
