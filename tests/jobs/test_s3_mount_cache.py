"""Read-only s3-mounts are engine cache volumes brought up to date by ETag and size (``resources/s3_cache.py``):
real Docker engine, moto S3 server."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dsjobs.config import load_config
from airflow_provider_dsjobs.documents.record import JobStatus
from airflow_provider_dsjobs.jobs.service import JobService
from airflow_provider_dsjobs.resources.s3_cache import SYNC_HELPER, S3CacheVolume, safe_key, wanted_objects
from airflow_provider_dsjobs.settings import Settings
from airflow_provider_dsjobs.storage.base import ObjectInfo
from airflow_provider_dsjobs.storage.s3 import S3Store
from tests.jobs.service_helpers import helpers_created, write_job

pytestmark = [pytest.mark.docker]

LISTER = """
cmd: |
  cd ${M} && find . -type f ! -path './.dsjobs/*' | sort | while read f; do echo "$f=$(cat "$f")"; done
  ls -A /job/s3 /job
  touch ${M}/new.txt 2>&1 || echo write refused
  env | grep -c '^AWS_' || true
s3-mounts:
  - mydata: M
"""


@pytest.fixture()
def volumes_removed(docker_client: Any, local_settings: Settings) -> Iterator[None]:
    yield
    flt = {"label": f"dsjobs.project={local_settings.project}"}
    for c in docker_client.containers.list(all=True, filters=flt):
        with contextlib.suppress(Exception):
            c.remove(force=True)
    for v in docker_client.volumes.list(filters=flt):
        with contextlib.suppress(Exception):
            v.remove(force=True)


@pytest.fixture()
def gets(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every object the process GETs from S3 (the real call is made; only counted)."""
    seen: list[str] = []
    real = S3Store.open_read

    def counting(self: S3Store, key: str) -> Any:
        seen.append(key)
        return real(self, key)

    monkeypatch.setattr(S3Store, "open_read", counting)
    return seen


def _client(s3_env: dict[str, str]) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=s3_env["endpoint"], region_name="us-east-1")


def _run(settings: Settings, tmp_path: Path) -> tuple[Any, list[str], list[str]]:
    service = JobService(settings)
    said: list[str] = []
    record = service.submit(load_config(write_job(tmp_path / f"j{uuid.uuid4().hex[:6]}", LISTER)), notify=said.append)
    out: list[str] = []
    done = service.wait(record.id, log=lambda _s, line: out.append(line))
    assert done.status == JobStatus.SUCCESS, done.status_details
    return done, said, out


def test_a_second_run_fetches_only_changed_objects_and_applies_deletions(
    local_settings: Settings,
    s3_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    docker_client: Any,
    gets: list[str],
    volumes_removed: None,
) -> None:
    client, bucket = _client(s3_env), s3_env["bucket"]
    for i in range(6):
        client.put_object(Bucket=bucket, Key=f"m/d{i % 2}/f{i}.txt", Body=f"v1-{i}".encode())
    monkeypatch.setenv("DSJOBS_S3_MOUNT_MYDATA", f"s3://{bucket}/m")

    _, said1, out1 = _run(local_settings, tmp_path)
    assert [line for line in out1 if line.startswith("./")] == [
        f"./d{i % 2}/f{i}.txt=v1-{i}" for i in (0, 2, 4, 1, 3, 5)
    ]
    assert "write refused" in out1 and any("Read-only file system" in line for line in out1)
    assert out1[-1] == "0"  # no AWS_* variable in the job
    assert len(gets) == 6 and any("fetched 6 new or changed object(s)" in s for s in said1), said1

    gets.clear()
    client.put_object(Bucket=bucket, Key="m/d0/f2.txt", Body=b"v2-2")  # changed (same size, other ETag)
    client.delete_object(Bucket=bucket, Key="m/d1/f3.txt")
    client.delete_object(Bucket=bucket, Key="m/d1/f5.txt")
    client.delete_object(Bucket=bucket, Key="m/d1/f1.txt")  # d1 is now empty: it goes too
    time.sleep(1)  # the engine's event filter counts whole seconds: nothing of the first run
    since = time.time()
    _, said2, out2 = _run(local_settings, tmp_path)
    assert [line for line in out2 if line.startswith("./")] == [
        "./d0/f0.txt=v1-0",
        "./d0/f2.txt=v2-2",
        "./d0/f4.txt=v1-4",
    ]
    assert gets == ["d0/f2.txt"]
    assert any("fetched 1 new or changed object(s) (4 bytes), deleted 3, 2 unchanged" in s for s in said2), said2

    gets.clear()
    _, said3, _ = _run(local_settings, tmp_path)
    assert gets == [] and any("fetched 0 new or changed" in s for s in said3)
    assert (
        helpers_created(docker_client, since, local_settings.project, SYNC_HELPER) == 1
    )  # the unchanged run needed no helper

    volume = docker_client.volumes.list(
        filters={"label": [f"dsjobs.project={local_settings.project}", "dsjobs.cache=s3-mount"]}
    )
    assert len(volume) == 1 and volume[0].attrs["Labels"]["dsjobs.s3-mount"] == "mydata"
    listing: bytes = docker_client.containers.run(
        local_settings.default_image,
        ["ls", "-A", "/v"],
        volumes={volume[0].name: {"bind": "/v", "mode": "ro"}},
        remove=True,
    )
    assert listing.decode().split() == [".dsjobs", "d0"]


def test_hostile_object_keys_are_left_out_and_nothing_lands_outside_the_mount(
    local_settings: Settings,
    s3_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    volumes_removed: None,
) -> None:
    client, bucket = _client(s3_env), s3_env["bucket"]
    long_name = "n" * 300
    for key in [
        "ok.txt",
        "../escaped.txt",
        "/abs.txt",
        "a/../../up.txt",
        f"d/{long_name}",
        ".dsjobs/state.json",
        "f",
        "f/g",
    ]:
        client.put_object(Bucket=bucket, Key=f"m/{key}", Body=b"x")
    monkeypatch.setenv("DSJOBS_S3_MOUNT_MYDATA", f"s3://{bucket}/m")
    _, said, out = _run(local_settings, tmp_path)
    assert [line for line in out if line.startswith("./")] == ["./f/g=x", "./ok.txt=x"]
    assert not any(
        "escaped" in line or "up.txt" in line or "abs.txt" in line for line in out if not line.startswith("./")
    )
    warning = [s for s in said if "left out" in s]
    assert len(warning) == 1 and "6 object(s) left out" in warning[0], said
    assert len(warning[0]) < 600  # the over-long key is shortened in the message


@pytest.mark.parametrize("key", ["../x", "/x", "a/../b", "a//b", "./a", "a/.", ".dsjobs/x", "a\0b", "n" * 256, "d/"])
def test_unsafe_keys(key: str) -> None:
    assert not safe_key(key)


def test_safe_keys_and_the_size_limit() -> None:
    assert safe_key("a/b c/é.txt") and safe_key("n" * 255) and safe_key(".hidden")
    vol = S3CacheVolume("p", "m", "s3://b/p", None, "/job/s3/m", max_bytes=10)
    wanted, refused = wanted_objects([ObjectInfo("a", 4, etag="e1"), ObjectInfo("../b", 4, etag="e2")], vol)
    assert wanted == {"a": ("e1", 4)} and refused == ["../b"]
    with pytest.raises(Exception, match="more than its connector's limit of 10 bytes"):
        wanted_objects([ObjectInfo("a", 6, etag="1"), ObjectInfo("b", 6, etag="2")], vol)


def test_concurrent_starts_fetch_each_object_once(
    local_settings: Settings,
    s3_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    gets: list[str],
    volumes_removed: None,
) -> None:
    client, bucket = _client(s3_env), s3_env["bucket"]
    for i in range(8):
        client.put_object(Bucket=bucket, Key=f"m/f{i}.txt", Body=f"v-{i}".encode() * 20000)
    monkeypatch.setenv("DSJOBS_S3_MOUNT_MYDATA", f"s3://{bucket}/m")
    results: list[Any] = []
    threads = [threading.Thread(target=lambda: results.append(_run(local_settings, tmp_path))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert len(results) == 3
    for _, _, out in results:
        assert len([line for line in out if line.startswith("./")]) == 8
    assert sorted(gets) == sorted(f"f{i}.txt" for i in range(8))


def test_an_update_cut_short_is_redone_by_the_next_job(
    local_settings: Settings,
    s3_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    gets: list[str],
    volumes_removed: None,
) -> None:
    from airflow_provider_dsjobs.jobs.service import JobError
    from airflow_provider_dsjobs.storage.base import StoreError

    client, bucket = _client(s3_env), s3_env["bucket"]
    for i in range(4):
        client.put_object(Bucket=bucket, Key=f"m/f{i}.txt", Body=f"v1-{i}".encode())
    monkeypatch.setenv("DSJOBS_S3_MOUNT_MYDATA", f"s3://{bucket}/m")
    _run(local_settings, tmp_path)
    for i in range(4):
        client.put_object(Bucket=bucket, Key=f"m/f{i}.txt", Body=f"v2-{i}".encode())
    counting = S3Store.open_read

    def failing_third(self: S3Store, key: str) -> Any:  # the fault: the connection drops at the third object
        if key == "f2.txt":
            raise StoreError("connection reset while reading f2.txt")
        return counting(self, key)

    monkeypatch.setattr(S3Store, "open_read", failing_third)
    with pytest.raises(JobError, match=r"s3-mount .*updating its cache failed"):
        _run(local_settings, tmp_path)
    monkeypatch.setattr(S3Store, "open_read", counting)
    gets.clear()
    _, _, out = _run(local_settings, tmp_path)
    assert [line for line in out if line.startswith("./")] == [f"./f{i}.txt=v2-{i}" for i in range(4)]
    assert sorted(gets) == ["f0.txt", "f1.txt", "f2.txt", "f3.txt"]  # the two written before the fault too


def test_the_connector_credentials_reach_neither_the_job_nor_the_cache(
    local_settings: Settings,
    s3_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    docker_client: Any,
    volumes_removed: None,
) -> None:
    from airflow_provider_dsjobs.cli.main import main
    from airflow_provider_dsjobs.resources.secrets import FileSecretStore

    secret = "lake-secret-ro-7c1"
    client, bucket = _client(s3_env), s3_env["bucket"]
    client.put_object(Bucket=bucket, Key="lake/x.txt", Body=b"x")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "DSJOBS_S3_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DSJOBS_HOME", str(local_settings.home))
    FileSecretStore(local_settings.home, local_settings.project).set("LAKE-KEY", secret)
    assert main(["s3-connector", "add", "mydata", f"s3://{bucket}/lake", "--endpoint-url", s3_env["endpoint"],
                 "--region", "us-east-1", "--access-key-id", "lake-key-id", "--secret-key-secret-id", "LAKE-KEY",
                 "--store", str(local_settings.store_url), "--project", local_settings.project]) == 0  # fmt: skip
    _, said, out = _run(local_settings, tmp_path)
    assert "./x.txt=x" in out and out[-1] == "0"
    assert not any(secret in s or "lake-key-id" in s for s in said)
    volume = docker_client.volumes.list(
        filters={"label": [f"dsjobs.project={local_settings.project}", "dsjobs.s3-mount=mydata"]}
    )
    assert len(volume) == 1 and not any(secret in str(v) for v in volume[0].attrs["Labels"].values())
    found: bytes = docker_client.containers.run(
        local_settings.default_image,
        ["sh", "-c", f"grep -rl -e {secret} -e lake-key-id /v || echo none"],
        volumes={volume[0].name: {"bind": "/v", "mode": "ro"}},
        remove=True,
    )
    assert found.decode().split() == ["none"]
