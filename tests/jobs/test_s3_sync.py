"""Read-write s3-mounts on the real engine against moto: what the job writes under ``/job/s3/<ID>`` reaches the
bucket when it ends — new and changed files only, with the connector's own credentials (never in the container),
after SUCCESS, ERROR and CANCELLED — and a sync that fails says so in the record without hiding the job's own
outcome."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dsjobs.cli.main import main
from airflow_provider_dsjobs.config.loader import load_config
from airflow_provider_dsjobs.documents.record import JobStatus
from airflow_provider_dsjobs.jobs.service import JobService
from airflow_provider_dsjobs.resources.secrets import FileSecretStore
from airflow_provider_dsjobs.settings import Settings
from tests.jobs.service_helpers import wait_for, write_job

pytestmark = [pytest.mark.docker]

LAKE_SECRET = "lake-secret-key-9f3"

#: Leaves keep.txt alone, grows change.txt, adds two files and a symbolic link, and shows its AWS_* variables.
WRITER = """
cmd: |
  echo more >> ${L}/change.txt
  echo new > ${L}/new.txt
  mkdir -p ${L}/ckpt/epoch1 && head -c 3000 /dev/zero > ${L}/ckpt/epoch1/model.bin
  ln -s /etc/passwd ${L}/passwd-link
  env | grep -c '^AWS_' || true
s3-mounts:
  - lake: L
"""


def _client(s3_env: dict[str, str]) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=s3_env["endpoint"], region_name="us-east-1")


def _objects(client: Any, bucket: str, prefix: str) -> dict[str, Any]:
    listed = client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return {o["Key"][len(prefix) :]: o for o in listed}


def _add_lake(s3_env: dict[str, str], settings: Settings, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A read-write connector ``lake`` with its own endpoint and key; the job store is local and the environment
    knows no S3 at all. Returns the CLI's common options."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "DSJOBS_S3_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DSJOBS_HOME", str(settings.home))
    FileSecretStore(settings.home, settings.project).set("LAKE-KEY", LAKE_SECRET)
    common = ["--store", str(settings.store_url), "--project", settings.project]
    assert main(["s3-connector", "add", "lake", f"s3://{s3_env['bucket']}/lake", "--endpoint-url", s3_env["endpoint"],
                 "--region", "us-east-1", "--access-key-id", "lake-key-id", "--secret-key-secret-id", "LAKE-KEY",
                 "--read-write", *common]) == 0  # fmt: skip
    return common


def test_what_the_job_writes_reaches_the_bucket_new_and_changed_files_only(
    local_settings: Settings,
    s3_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    client, bucket = _client(s3_env), s3_env["bucket"]
    client.put_object(Bucket=bucket, Key="lake/keep.txt", Body=b"keep me\n")
    client.put_object(Bucket=bucket, Key="lake/change.txt", Body=b"v1\n")
    kept_before = _objects(client, bucket, "lake/")["keep.txt"]
    common = _add_lake(s3_env, local_settings, monkeypatch)
    capsys.readouterr()
    assert main(["s3-connector", "ls", "--format", "json", *common]) == 0
    assert json.loads(capsys.readouterr().out)[0]["read_write"] is True

    service = JobService(local_settings)
    lines: list[str] = []
    done = service.wait(
        service.submit(load_config(write_job(tmp_path / "job", WRITER))).id, log=lambda _s, ln: lines.append(ln)
    )
    assert done.status == JobStatus.SUCCESS, done.status_details
    assert lines[0] == "0"  # no credential in the container

    after = _objects(client, bucket, "lake/")
    assert sorted(after) == ["change.txt", "ckpt/epoch1/model.bin", "keep.txt", "new.txt"]  # the link is not there
    body = client.get_object(Bucket=bucket, Key="lake/change.txt")["Body"].read()
    assert body == b"v1\nmore\n"
    assert after["ckpt/epoch1/model.bin"]["Size"] == 3000
    assert (after["keep.txt"]["ETag"], after["keep.txt"]["LastModified"]) == (
        kept_before["ETag"],
        kept_before["LastModified"],
    )  # not uploaded again
    [synced] = done.s3_sync
    assert (synced.id, synced.url, synced.error) == ("lake", f"s3://{bucket}/lake", None)
    assert (synced.uploaded_files, synced.uploaded_bytes, synced.unchanged_files) == (3, 8 + 4 + 3000, 1)
    assert len(synced.skipped) == 1 and "passwd-link" in synced.skipped[0]

    capsys.readouterr()
    assert main(["get", "--id", done.id, *common]) == 0
    assert f"s3-mount lake: uploaded 3 new or changed file(s) (3012 bytes) to s3://{bucket}/lake, 1 unchanged" in (
        capsys.readouterr().out
    )
    assert main(["get", "--id", done.id, "--format", "json", *common]) == 0
    assert json.loads(capsys.readouterr().out)["s3_sync"] == [synced.to_doc()]
    log = [line for _, line in service.logs(done.id)]
    assert any(line.startswith("s3-mount lake: uploaded 3") for line in log)
    assert [i.key for i in service.store.list("") if LAKE_SECRET.encode() in service.store.get_bytes(i.key)] == []


CHECKPOINTS = """
cmd: |
  echo step1 > ${M}/ckpt-1.txt
  echo checkpoint-written
  {tail}
s3-mounts:
  - scratch01: M
"""


def test_a_failed_and_a_cancelled_job_still_save_their_intermediate_results(
    local_settings: Settings,
    s3_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The environment form: DSJOBS_S3_MOUNT_<ID> with the store's S3 settings, made read-write by _MODE=rw.
    client, bucket = _client(s3_env), s3_env["bucket"]
    client.put_object(Bucket=bucket, Key="scratch/.keep", Body=b"")
    monkeypatch.setenv("DSJOBS_S3_MOUNT_SCRATCH01", f"s3://{bucket}/scratch")
    monkeypatch.setenv("DSJOBS_S3_MOUNT_SCRATCH01_MODE", "rw")
    service = JobService(local_settings)

    links = "for i in $(seq 25); do ln -s /etc/hostname ${M}/link$i; done; exit 3"  # 25 entries skipped
    failing = write_job(tmp_path / "fails", CHECKPOINTS.replace("{tail}", links))
    monkeypatch.setenv("DSJOBS_HOME", str(local_settings.home))
    monkeypatch.setenv("DSJOBS_DEFAULT_IMAGE", local_settings.default_image)
    common = ["--store", str(local_settings.store_url), "--project", local_settings.project]
    capsys.readouterr()
    assert main(["execute", "-c", str(failing), *common]) == 1
    err = capsys.readouterr().err
    assert (
        f"s3-mount scratch01: uploaded 1 new or changed file(s) (6 bytes) to s3://{bucket}/scratch, 1 unchanged" in err
    )
    [failed] = service.list_jobs()
    assert (failed.status, failed.status_details) == (JobStatus.ERROR, "program exited with code 3")
    assert failed.s3_sync[0].uploaded_files == 1 and failed.s3_sync[0].error is None
    skipped = failed.s3_sync[0].skipped
    assert len(skipped) == 21 and skipped[-1] == "... and 5 more skipped"  # the record stays small
    assert client.get_object(Bucket=bucket, Key="scratch/ckpt-1.txt")["Body"].read() == b"step1\n"

    client.delete_object(Bucket=bucket, Key="scratch/ckpt-1.txt")
    slow = write_job(tmp_path / "slow", CHECKPOINTS.replace("{tail}", "sleep 120"))
    record = service.submit(load_config(slow))
    seen: list[str] = []
    follower = threading.Thread(target=lambda: service.wait(record.id, log=lambda _s, ln: seen.append(ln)), daemon=True)
    follower.start()
    wait_for(lambda: "checkpoint-written" in seen, what="the checkpoint line")
    cancelled = service.cancel(record.id)
    follower.join(timeout=60)
    assert cancelled.status == JobStatus.CANCELLED
    assert cancelled.s3_sync[0].uploaded_files == 1
    assert client.get_object(Bucket=bucket, Key="scratch/ckpt-1.txt")["Body"].read() == b"step1\n"

    monkeypatch.setenv("DSJOBS_S3_MOUNT_SCRATCH01_MODE", "sometimes")
    with pytest.raises(
        Exception,
        match=r"DSJOBS_S3_MOUNT_SCRATCH01_MODE must be ro, rw or lazy \(read-only, fetched on demand\), "
        "got 'sometimes'",
    ):
        service.submit(load_config(failing))


def test_a_sync_that_fails_is_in_the_record_and_keeps_the_jobs_own_outcome(
    local_settings: Settings, s3_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, bucket = _client(s3_env), s3_env["bucket"]
    client.put_object(Bucket=bucket, Key="lake/change.txt", Body=b"v1\n")
    _add_lake(s3_env, local_settings, monkeypatch)
    service = JobService(local_settings)
    secrets = FileSecretStore(local_settings.home, local_settings.project)
    reason = (
        f"syncing s3-mount lake back to s3://{bucket}/lake failed: s3-mount lake: s3-connector 'lake' names "
        "secret 'LAKE-KEY', which does not exist (`dsjobs secret set LAKE-KEY`)"
    )
    failing = WRITER.replace("  env | grep -c '^AWS_' || true\n", "  exit 4\n")
    for name, config, details in [("ok", WRITER, reason), ("fails", failing, "program exited with code 4")]:
        secrets.set("LAKE-KEY", LAKE_SECRET)
        record = service.submit(load_config(write_job(tmp_path / name, config)))
        secrets.remove("LAKE-KEY")  # the finalizer can no longer sign for the bucket
        done = service.wait(record.id)
        assert (done.status, done.status_details) == (JobStatus.ERROR, details)
        assert done.return_code == (0 if name == "ok" else 4)  # the program's own outcome stays in the record
        assert done.s3_sync[0].error is not None and "LAKE-KEY" in done.s3_sync[0].error
        assert done.s3_sync[0].uploaded_files == 0
    assert client.get_object(Bucket=bucket, Key="lake/change.txt")["Body"].read() == b"v1\n"
