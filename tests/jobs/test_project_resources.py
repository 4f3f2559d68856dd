"""Project resources reaching a real job: every project secret as an env var of its own name (never stored),
and ``env.docker: <image ID>`` resolving through the project's image registry."""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dsjobs.config.loader import load_config
from airflow_provider_dsjobs.documents.record import JobStatus
from airflow_provider_dsjobs.jobs.errors import JobError
from airflow_provider_dsjobs.jobs.service import JobService
from airflow_provider_dsjobs.resources.images import ImageRegistry
from airflow_provider_dsjobs.resources.secrets import FileSecretStore
from airflow_provider_dsjobs.settings import Settings
from tests.jobs.service_helpers import write_job

pytestmark = [pytest.mark.docker]

SECRET = "pr0ject-s3cret-value"

SECRETS_JOB = """
name: uses-secrets
cmd: |
  python3 -c "import os, hashlib; print(hashlib.sha256(os.environ['MY-SECRET'].encode()).hexdigest())" > sha.txt
  python3 -c "import os; print('region=' + os.environ['REGION'], 'db=%d' % len(os.environ['DB_PASSWORD']))"
outputs:
  - sha.txt
env:
  vars:
    - REGION: europe
"""


def _read(service: JobService, uri: str) -> str:
    key = uri[len(service.store.url.rstrip("/")) + 1 :]
    with service.store.open_read(key) as fh:
        return fh.read().decode()


def test_every_project_secret_reaches_the_job_and_nothing_stores_it(settings: Settings, tmp_path: Path) -> None:
    secrets = FileSecretStore(settings.home, settings.project)
    secrets.set("MY-SECRET", SECRET)
    secrets.set("DB_PASSWORD", "db-" + SECRET)
    service = JobService(settings)
    lines: list[str] = []
    record = service.submit(load_config(write_job(tmp_path / "job", SECRETS_JOB)))
    done = service.wait(record.id, log=lambda _s, line: lines.append(line))
    assert done.status == JobStatus.SUCCESS, done.status_details
    assert _read(service, done.outputs["sha.txt"]).strip() == hashlib.sha256(SECRET.encode()).hexdigest()
    assert f"region=europe db={len('db-' + SECRET)}" in lines
    stored = [info.key for info in service.store.list("") if SECRET.encode() in service.store.get_bytes(info.key)]
    assert stored == []  # not in the record, plan.json, logs or outputs


def test_a_config_env_var_wins_over_a_project_secret_of_the_same_name(local_settings: Settings, tmp_path: Path) -> None:
    FileSecretStore(local_settings.home, local_settings.project).set("REGION", "from-secret")
    FileSecretStore(local_settings.home, local_settings.project).set("MY-SECRET", SECRET)
    FileSecretStore(local_settings.home, local_settings.project).set("DB_PASSWORD", "x")
    service = JobService(local_settings)
    lines: list[str] = []
    done = service.wait(
        service.submit(load_config(write_job(tmp_path / "job", SECRETS_JOB))).id,
        log=lambda _s, line: lines.append(line),
    )
    assert done.status == JobStatus.SUCCESS, done.status_details
    assert any(line.startswith("region=europe ") for line in lines)


def test_env_docker_image_id_runs_the_registered_image(settings: Settings, tmp_path: Path, test_image: str) -> None:
    ImageRegistry(JobService(settings).store, settings.project).add("b1gtrainerimage00001", test_image)
    cfg = write_job(tmp_path / "job", "cmd: python3 -c 'print(\"hello\")'\nenv:\n  docker: b1gtrainerimage00001\n")
    service = JobService(settings)
    done = service.wait(service.submit(load_config(cfg)).id)
    assert done.status == JobStatus.SUCCESS, done.status_details
    assert done.image == test_image


def test_an_unknown_image_id_is_one_clear_error_and_no_job(local_settings: Settings, tmp_path: Path) -> None:
    cfg = write_job(tmp_path / "job", "cmd: echo hi\nenv:\n  docker: b1gmissingimage00001\n")
    service = JobService(local_settings)
    with pytest.raises(JobError, match=r"env.docker: unknown project image 'b1gmissingimage00001'.*docker-image add"):
        service.submit(load_config(cfg))
    assert service.list_jobs() == []


USES_DATASET = """
name: reads-dataset
cmd: cat ${DATA}/a.txt ${DATA}/sub/b.txt > out.txt && mkdir -p ${FEATURES} && cp out.txt ${FEATURES}/f.txt
datasets:
  - DATASET_ID: DATA
outputs:
  - out.txt
output-datasets:
  - name: derived
    var: FEATURES
    size: 1Mb
"""


def test_a_dataset_created_from_s3_is_what_a_job_reads_by_id(
    settings: Settings, tmp_path: Path, s3_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    import boto3

    from airflow_provider_dsjobs.cli.main import main

    s3 = boto3.client("s3", endpoint_url=s3_env["endpoint"], region_name="us-east-1")
    s3.put_object(Bucket=s3_env["bucket"], Key="raw/v1/a.txt", Body=b"alpha\n")
    s3.put_object(Bucket=s3_env["bucket"], Key="raw/v1/sub/b.txt", Body=b"beta\n")
    common = ["--store", str(settings.store_url), "--project", settings.project]
    assert main(["dataset", "create", "--name", "raw", "--from", f"s3://{s3_env['bucket']}/raw/v1",
                 "--label", "src=s3", "--format", "json", *common]) == 0  # fmt: skip
    import json

    created = json.loads(capsys.readouterr().out)
    assert (created["name"], created["files"], created["labels"]) == ("raw", 2, {"src": "s3"})

    service = JobService(settings)
    cfg = write_job(tmp_path / "job", USES_DATASET.replace("DATASET_ID", created["id"]))
    done = service.wait(service.submit(load_config(cfg)).id)
    assert done.status == JobStatus.SUCCESS, done.status_details
    assert _read(service, done.outputs["out.txt"]) == "alpha\nbeta\n"

    assert main(["dataset", "ls", "--format", "json", *common]) == 0
    listed = {d["name"]: d for d in json.loads(capsys.readouterr().out)}
    assert set(listed) == {"raw", "derived"}  # output datasets are in the same list
    assert listed["derived"]["job_id"] == done.id and listed["derived"]["id"] == done.output_datasets["derived"]
    assert main(["dataset", "rm", "--id", created["id"], *common]) == 0
    assert main(["dataset", "get", "--id", created["id"], *common]) == 1
    assert f"no dataset '{created['id']}'" in capsys.readouterr().err


def test_project_disk_put_ls_rm_and_a_job_reads_it(
    local_settings: Settings,
    tmp_path: Path,
    docker_client: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import json

    from airflow_provider_dsjobs.cli.main import main
    from airflow_provider_dsjobs.resources.project_disk import project_volume_name

    data = tmp_path / "weights"
    (data / "v1").mkdir(parents=True)
    (data / "v1" / "model.bin").write_bytes(b"w" * 100)
    (tmp_path / "notes.txt").write_text("hello disk\n")
    monkeypatch.setenv("DSJOBS_DEFAULT_IMAGE", local_settings.default_image)  # the helper containers' image
    common = ["--store", str(local_settings.store_url), "--project", local_settings.project]
    try:
        assert main(["project-disk", "put", str(data), "models", *common]) == 0
        assert main(["project-disk", "put", str(tmp_path / "notes.txt"), *common]) == 0
        capsys.readouterr()
        assert main(["project-disk", "ls", "--format", "json", *common]) == 0
        assert json.loads(capsys.readouterr().out) == [
            {"path": "models/weights/v1/model.bin", "size": 100},
            {"path": "notes.txt", "size": 11},
        ]
        cfg = write_job(
            tmp_path / "job",
            "cmd: cat ${DS_PROJECT_HOME}/notes.txt && wc -c < ${DS_PROJECT_HOME}/models/weights/v1/model.bin\n"
            "flags: [attach-project-disk]\n",
        )
        service = JobService(local_settings)
        lines: list[str] = []
        done = service.wait(service.submit(load_config(cfg)).id, log=lambda _s, line: lines.append(line))
        assert done.status == JobStatus.SUCCESS, done.status_details
        assert "hello disk" in lines and "100" in lines
        assert main(["project-disk", "rm", "models", *common]) == 0
        assert main(["project-disk", "rm", "models", *common]) == 1
        assert "no such path on the project disk: models" in capsys.readouterr().err
        assert main(["project-disk", "rm", "../x", *common]) == 1
        assert "invalid project-disk path '../x'" in capsys.readouterr().err
        assert main(["project-disk", "ls", *common]) == 0
        assert capsys.readouterr().out.splitlines()[1:] == ["notes.txt  11"]
        helpers = docker_client.containers.list(
            all=True, filters={"label": [f"dsjobs.project={local_settings.project}", "dsjobs.helper=project-disk"]}
        )
        assert helpers == []  # every helper container is gone
    finally:
        with contextlib.suppress(Exception):
            docker_client.volumes.get(project_volume_name(local_settings.project)).remove(force=True)


def test_an_s3_connector_brings_its_own_endpoint_and_credentials(
    local_settings: Settings,
    s3_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import json

    import boto3

    from airflow_provider_dsjobs.cli.main import main

    client = boto3.client("s3", endpoint_url=s3_env["endpoint"], region_name="us-east-1")
    client.put_object(Bucket=s3_env["bucket"], Key="lake/x.txt", Body=b"from the lake\n")
    # Nothing but the connector knows where that bucket is or how to sign for it: the store is local.
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "DSJOBS_S3_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    FileSecretStore(local_settings.home, local_settings.project).set("LAKE-KEY", "lake-secret-key")
    common = ["--store", str(local_settings.store_url), "--project", local_settings.project]
    monkeypatch.setenv("DSJOBS_HOME", str(local_settings.home))
    assert main(["s3-connector", "add", "lake", f"s3://{s3_env['bucket']}/lake", "--endpoint-url", s3_env["endpoint"],
                 "--region", "us-east-1", "--access-key-id", "lake-key-id", "--secret-key-secret-id", "LAKE-KEY",
                 *common]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["s3-connector", "ls", "--format", "json", *common]) == 0
    [entry] = json.loads(capsys.readouterr().out)
    assert (entry["id"], entry["secret_key_secret_id"]) == ("lake", "LAKE-KEY")
    assert "lake-secret-key" not in json.dumps(entry)

    cfg = write_job(tmp_path / "job", "cmd: cat ${L}/x.txt; env | grep -c '^AWS_' || true\ns3-mounts:\n  - lake: L\n")
    service = JobService(local_settings)
    lines: list[str] = []
    done = service.wait(service.submit(load_config(cfg)).id, log=lambda _s, line: lines.append(line))
    assert done.status == JobStatus.SUCCESS, done.status_details
    assert lines[:2] == ["from the lake", "0"]  # copied in; no credential inside the container
    assert [i.key for i in service.store.list("") if b"lake-secret-key" in service.store.get_bytes(i.key)] == []

    assert main(["s3-connector", "rm", "lake", *common]) == 0
    with pytest.raises(JobError, match=r"unknown s3-mount 'lake': add it with `dsjobs s3-connector add lake"):
        service.submit(load_config(cfg))


SPARK_JOB = """
cmd: |
  echo "remote=$SPARK_REMOTE"
  cat "$JOB_DATAPROC_CONNECTION_CONFIG"
spark:
  connector: SPARK_CONN
"""


def test_a_spark_connector_gives_the_job_its_spark_connect_endpoint(
    local_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from airflow_provider_dsjobs.cli.main import main

    monkeypatch.setenv("DSJOBS_HOME", str(local_settings.home))
    FileSecretStore(local_settings.home, local_settings.project).set("SPARK-TOKEN", "spark-tok-123")
    common = ["--store", str(local_settings.store_url), "--project", local_settings.project]
    assert main(["spark-connector", "add", "b1gsparkconn00000001", "sc://spark.example:15002", "--conf",
                 "spark.sql.shuffle.partitions=4", "--token-secret-id", "SPARK-TOKEN", *common]) == 0  # fmt: skip
    cfg = write_job(tmp_path / "job", SPARK_JOB.replace("SPARK_CONN", "b1gsparkconn00000001"))
    service = JobService(local_settings)
    lines: list[str] = []
    done = service.wait(service.submit(load_config(cfg)).id, log=lambda _s, line: lines.append(line))
    assert done.status == JobStatus.SUCCESS, done.status_details
    assert (
        lines[0] == "remote=sc://spark.example:15002/;token=spark-tok-123"
    )  # parameters after "/", as pyspark reads them
    assert json.loads("\n".join(lines[1:])) == {
        "master_node_host": "spark.example:15002",
        "connection_mode": "SPARK_CONNECT",
        "session_params": {"spark.sql.shuffle.partitions": "4"},
    }  # what DataSphere's connect_to_spark() reads
    assert main(["spark-connector", "rm", "b1gsparkconn00000001", *common]) == 0
    capsys.readouterr()
    with pytest.raises(JobError, match=r"spark.connector: unknown Spark connector 'b1gsparkconn00000001'"):
        service.submit(load_config(cfg))
