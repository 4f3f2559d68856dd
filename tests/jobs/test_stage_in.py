"""s3-mount delivery (``jobs/stage_in.py``) against a real S3 endpoint (moto): the tar entries a container gets."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator

import boto3
import pytest

from airflow_provider_dsjobs.jobs.errors import JobError
from airflow_provider_dsjobs.jobs.stage_in import s3_mount_entries
from airflow_provider_dsjobs.resources.s3_connectors import S3Source
from airflow_provider_dsjobs.runtime.tarstream import TarDir, TarEntry, tar_stream


def _no_parents(path: str) -> Iterator[TarEntry]:
    return iter(())


def _source(s3_env: dict[str, str], url: str, max_bytes: int | None = None) -> S3Source:
    return S3Source(url, s3_env["endpoint"], "us-east-1", "mount-key", "mount-secret", max_bytes=max_bytes)


def _untar_files(entries: list[TarEntry]) -> dict[str, tuple[bytes, int]]:
    """The files the container would see: member name -> (content, mode)."""
    data = b"".join(tar_stream(entries))
    found: dict[str, tuple[bytes, int]] = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        for member in archive:
            fh = archive.extractfile(member) if member.isfile() else None
            if fh is not None:
                found[member.name] = (fh.read(), member.mode)
    return found


def test_objects_under_the_prefix_arrive_with_their_relative_paths(
    s3_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = boto3.client("s3", endpoint_url=s3_env["endpoint"], region_name="us-east-1")
    for key, body in {
        "mnt/a.txt": b"alpha",
        "mnt/sub/b.bin": bytes(range(256)) * 40,
        "mnt/sub/": b"",  # a console-made "folder" marker: not a file
        "mnt-other/c.txt": b"same first letters, other prefix",
        "elsewhere/d.txt": b"not mounted",
    }.items():
        client.put_object(Bucket=s3_env["bucket"], Key=key, Body=body)
    # The settings' credentials are used, not the environment's.
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    made: list[str] = []

    def parents(path: str) -> Iterator[TarEntry]:
        made.append(path)
        yield TarDir(path.strip("/").rsplit("/", 1)[0], mode=0o777)

    entries = list(s3_mount_entries(_source(s3_env, f"s3://{s3_env['bucket']}/mnt/"), "/job/data", parents))
    assert _untar_files(entries) == {
        "job/data/a.txt": (b"alpha", 0o444),
        "job/data/sub/b.bin": (bytes(range(256)) * 40, 0o444),
    }
    assert made == ["/job/data/a.txt", "/job/data/sub/b.bin"]


def test_a_mount_over_the_cap_is_refused(s3_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    client = boto3.client("s3", endpoint_url=s3_env["endpoint"], region_name="us-east-1")
    client.put_object(Bucket=s3_env["bucket"], Key="big/one", Body=b"x" * 600)
    client.put_object(Bucket=s3_env["bucket"], Key="big/two", Body=b"y" * 600)
    url = f"s3://{s3_env['bucket']}/big"
    with pytest.raises(JobError, match=f"s3-mount {url} holds more than its connector's limit of 1000 bytes"):
        list(s3_mount_entries(_source(s3_env, url, max_bytes=1000), "/job/big", _no_parents))
    assert len(list(s3_mount_entries(_source(s3_env, url), "/job/big", _no_parents))) == 2  # no cap by default


def test_a_missing_bucket_is_one_line_naming_the_mount(s3_env: dict[str, str]) -> None:
    url = "s3://no-such-bucket-dsjobs/data"
    with pytest.raises(JobError) as caught:
        list(s3_mount_entries(_source(s3_env, url), "/job/m", _no_parents))
    message = str(caught.value)
    assert message.startswith(f"s3-mount {url}: ") and "no-such-bucket-dsjobs does not exist" in message
    assert "\n" not in message and "mount-secret" not in message
