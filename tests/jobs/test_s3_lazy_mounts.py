"""Lazy (FUSE) S3 mounts (``resources/s3_lazy.py``, ``jobs/s3_lazy_mounts.py``): real Docker engine, real s3fs
helper, a moto server behind a counting proxy (``tests/servers.py``) that tells which objects' bytes were fetched."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dsjobs.config import load_config
from airflow_provider_dsjobs.documents.record import JobRecord, JobStatus
from airflow_provider_dsjobs.jobs.service import JobService
from airflow_provider_dsjobs.resources.s3_connectors import ConnectorError, ConnectorRegistry, S3Source
from airflow_provider_dsjobs.resources.s3_lazy import HELPER_PURPOSE, LAZY_LABEL, LazyMount, LazyMountError
from airflow_provider_dsjobs.runtime.containers import Runtime
from airflow_provider_dsjobs.runtime.helper import HELPER_LABEL
from airflow_provider_dsjobs.runtime.labels import LABEL_JOB_ID, LABEL_PROJECT
from airflow_provider_dsjobs.settings import Settings
from airflow_provider_dsjobs.storage.local import LocalStore
from tests.conftest import Fuse
from tests.jobs.service_helpers import write_job
from tests.servers import CountingS3, counting_s3_proxy

pytestmark = [pytest.mark.docker]

#: Reads ONE object of the mount, shows what the container sees, then waits for the test's go (/tmp/go).
READER = """
cmd: |
  setpriv --reuid=65534 --regid=65534 --clear-groups md5sum ${M}/sub/d.bin | cut -d' ' -f1
  ls ${M}
  touch ${M}/new.txt 2>&1 || echo write refused
  echo "mounts: $(grep ' /job/s3/lazy1 ' /proc/mounts)"
  echo "env: $(env | tr '\\n' ' ')"
  while [ ! -e /tmp/go ]; do sleep 0.1; done
s3-mounts:
  - lazy1: M
"""
SIZES = {"a.bin": 300_000, "b.bin": 200_000, "sub/d.bin": 150_000}


@pytest.fixture()
def proxy(moto_server: str) -> Iterator[CountingS3]:
    with counting_s3_proxy(moto_server) as state:
        yield state


@pytest.fixture()
def lazy_bucket(s3_env: dict[str, str], proxy: CountingS3, monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """Objects under ``lz/`` of the test's bucket; ``DSJOBS_S3_MOUNT_LAZY1`` names them, lazily, via the proxy."""
    import boto3

    client = boto3.client("s3", endpoint_url=s3_env["endpoint"], region_name="us-east-1")
    objects = {name: hashlib.sha256(name.encode()).digest() * (size // 32) for name, size in SIZES.items()}
    for name, body in objects.items():
        client.put_object(Bucket=s3_env["bucket"], Key=f"lz/{name}", Body=body)
    monkeypatch.setenv("DSJOBS_S3_MOUNT_LAZY1", f"s3://{s3_env['bucket']}/lz")
    monkeypatch.setenv("DSJOBS_S3_MOUNT_LAZY1_MODE", "lazy")
    monkeypatch.setenv("DSJOBS_S3_ENDPOINT_URL", proxy.endpoint)
    return objects


@pytest.fixture()
def lazy_settings(local_settings: Settings, fuse: Fuse) -> Settings:
    """Lazy mounts on, with keys of their own (what must never reach the job), on the host network (moto)."""
    return dataclasses.replace(
        local_settings,
        lazy_mounts=True,
        s3fs_image=fuse.image,
        lazy_mount_root=fuse.root,
        docker_network="host",
        aws_access_key_id="AKIDLAZY" + uuid.uuid4().hex[:8].upper(),
        aws_secret_access_key="lazy-secret-" + uuid.uuid4().hex,
    )


def _helpers(docker_client: Any, job_id: str) -> list[Any]:
    flt = {"label": [f"{LABEL_JOB_ID}={job_id}", f"{HELPER_LABEL}={HELPER_PURPOSE}"]}
    return list(docker_client.containers.list(all=True, filters=flt))


def _mounted_on_host(path: str) -> bool:
    return any(line.split()[4] == path for line in Path("/proc/self/mountinfo").read_text().splitlines())


def _submit(settings: Settings, tmp_path: Path, config: str = READER) -> tuple[JobService, JobRecord, list[str]]:
    service = JobService(settings)
    said: list[str] = []
    job = write_job(tmp_path / f"j{uuid.uuid4().hex[:6]}", config)
    record = service.submit(load_config(job), notify=said.append)
    return service, record, said


def test_a_lazy_mount_fetches_only_what_the_job_reads_and_keeps_the_credentials_out(
    lazy_settings: Settings, lazy_bucket: dict[str, bytes], proxy: CountingS3, docker_client: Any, tmp_path: Path
) -> None:
    secret, key_id = lazy_settings.aws_secret_access_key or "", lazy_settings.aws_access_key_id or ""
    service, record, said = _submit(lazy_settings, tmp_path)
    assert any("s3-mount lazy1: mounted lazily" in line for line in said), said
    job = docker_client.containers.get(record.container_id)
    (helper,) = _helpers(docker_client, record.id)
    host_dir = f"{lazy_settings.lazy_mount_root}/{record.id}-lazy1"
    # the helper holds the credentials only as its 0600 file: not in its env, command, args or labels
    shown = str({k: helper.attrs["Config"].get(k) for k in ("Env", "Cmd", "Entrypoint", "Labels")})
    shown += str(helper.attrs.get("Args")) + str(helper.attrs["Path"])
    assert secret not in shown and key_id not in shown
    assert helper.attrs["Config"]["Labels"][LAZY_LABEL] == "lazy1"
    assert helper.attrs["Config"]["Labels"][LABEL_PROJECT] == lazy_settings.project
    # the job container: no credential, no privilege, the mount read-only and following the helper's
    job_attrs = str(job.attrs)
    assert secret not in job_attrs and key_id not in job_attrs
    host = job.attrs["HostConfig"]
    assert host["SecurityOpt"] == ["no-new-privileges"] and not host.get("CapAdd") and not host.get("Devices")
    assert f"{host_dir}:/job/s3/lazy1:ro,rslave" in host["Binds"]
    assert _mounted_on_host(host_dir)
    code, out = job.exec_run(["touch", "/tmp/go"])
    assert code == 0, out
    out_lines: list[str] = []
    done = service.wait(record.id, log=lambda _s, line: out_lines.append(line))
    assert done.status == JobStatus.SUCCESS, done.status_details
    # (a) what the job read is right (read by a user other than root: the files are world-readable)
    assert out_lines[0] == hashlib.md5(lazy_bucket["sub/d.bin"]).hexdigest()
    assert out_lines[1:4] == ["a.bin", "b.bin", "sub"]
    assert "write refused" in out_lines and any("Read-only file system" in line for line in out_lines)
    # (b) only the object the job opened was fetched, once
    fetched = proxy.bytes_by_key(lazy_bucket_name(proxy, lazy_bucket))
    assert fetched == {"lz/sub/d.bin": SIZES["sub/d.bin"] // 32 * 32}, fetched
    # (c) nothing of the credentials in the job's /proc/mounts or environment
    mounts_line = next(line for line in out_lines if line.startswith("mounts: "))
    env_line = next(line for line in out_lines if line.startswith("env: "))
    assert "fuse" in mounts_line and "ro" in mounts_line.split()[4].split(",")
    for text in (mounts_line, env_line, *said):
        assert secret not in text and key_id not in text and "AWS_" not in text
    # (d) the helper went with the job, and the mount with it
    assert _helpers(docker_client, record.id) == []
    assert not _mounted_on_host(host_dir)


def lazy_bucket_name(proxy: CountingS3, objects: dict[str, bytes]) -> str:
    """The bucket the proxy saw objects fetched from (the test's own)."""
    buckets = {path.lstrip("/").partition("/")[0] for path, _ in proxy.gets}
    assert len(buckets) == 1, proxy.gets
    return buckets.pop()


def test_lazy_mounts_off_on_the_engine_fall_back_to_the_cache_and_say_so(
    local_settings: Settings, lazy_bucket: dict[str, bytes], docker_client: Any, tmp_path: Path
) -> None:
    config = "cmd: md5sum ${M}/sub/d.bin | cut -d' ' -f1\ns3-mounts:\n  - lazy1: M\n"
    service, record, said = _submit(dataclasses.replace(local_settings, docker_network="host"), tmp_path, config)
    out: list[str] = []
    done = service.wait(record.id, log=lambda _s, line: out.append(line))
    assert done.status == JobStatus.SUCCESS, done.status_details
    assert out == [hashlib.md5(lazy_bucket["sub/d.bin"]).hexdigest()]
    off = [line for line in said if "lazy mounts" in line]
    assert off == ["s3-mount lazy1: lazy mounts are off on this engine (DSJOBS_LAZY_MOUNTS): using the engine cache"]
    assert any("s3-mount lazy1: cache up to date, fetched 3" in line for line in said), said
    assert _helpers(docker_client, record.id) == []


def _failed(settings: Settings, tmp_path: Path) -> JobRecord:
    service = JobService(settings)
    said: list[str] = []
    with pytest.raises(Exception) as raised:
        service.submit(load_config(write_job(tmp_path / "j", READER)), notify=said.append)
    assert "\n" not in str(raised.value) and "Traceback" not in str(raised.value)
    created = [line.split()[-1] for line in said if line.startswith("created job ")]
    return service.get(created[0])


def test_a_missing_s3fs_image_fails_the_launch_before_the_job_container_exists(
    lazy_settings: Settings, lazy_bucket: dict[str, bytes], docker_client: Any, tmp_path: Path
) -> None:
    settings = dataclasses.replace(lazy_settings, s3fs_image="dsjobs-test/no-such-s3fs:0", image_pull_policy="never")
    record = _failed(settings, tmp_path)
    assert record.status == JobStatus.ERROR and record.container_id is None
    assert "DSJOBS_S3FS_IMAGE" in (record.status_details or "") and "dsjobs-test/no-such-s3fs:0" in (
        record.status_details or ""
    )


def test_a_mount_root_that_is_not_shared_fails_in_one_line_naming_the_setting(
    lazy_settings: Settings, lazy_bucket: dict[str, bytes], docker_client: Any, tmp_path: Path
) -> None:
    record = _failed(dataclasses.replace(lazy_settings, lazy_mount_root=str(tmp_path / "private")), tmp_path)
    assert record.status == JobStatus.ERROR and record.container_id is None
    assert "DSJOBS_LAZY_MOUNT_ROOT" in (record.status_details or ""), record.status_details
    assert _helpers(docker_client, record.id) == []


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DSJOBS_S3_ENDPOINT_URL", "http://127.0.0.1:9,passwd_file=/etc/shadow"),
        ("DSJOBS_S3_ENDPOINT_URL", "http://127.0.0.1:9 -o allow_root"),
        ("DSJOBS_S3_MOUNT_LAZY1", "s3://bucket-x/p,umask=0000"),
        ("DSJOBS_S3_MOUNT_LAZY1", "s3://bucket-x/p:/etc"),
    ],
)
def test_hostile_endpoints_and_prefixes_never_reach_s3fs(
    lazy_settings: Settings,
    lazy_bucket: dict[str, bytes],
    docker_client: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
) -> None:
    monkeypatch.setenv(variable, value)
    since = time.time()
    record = _failed(lazy_settings, tmp_path)
    assert record.status == JobStatus.ERROR and "lazy s3-mount lazy1" in (record.status_details or "")
    created = docker_client.containers.list(all=True, filters={"label": f"{HELPER_LABEL}={HELPER_PURPOSE}"})
    assert not [c for c in created if c.labels.get(LABEL_JOB_ID) == record.id], since


def test_option_syntax_is_refused_in_every_value_that_reaches_s3fs() -> None:
    def command(**source: Any) -> list[str]:
        mount = LazyMount("job1", "p", "m", S3Source(**{"url": "s3://bkt/pre", **source}), "/var/lib/x")
        return mount.command()

    assert command(endpoint_url="https://s3.example.com:9000", region="eu-west-1")[-1].split(",")[-3:] == [
        "url=https://s3.example.com:9000",
        "use_path_request_style",
        "endpoint=eu-west-1",
    ]
    for hostile in (
        {"endpoint_url": "http://x,passwd_file=/etc/shadow"},
        {"endpoint_url": "http://x\n"},
        {"region": "eu,allow_other"},
        {"url": "s3://bkt/a,b"},
        {"url": "s3://bkt/a b"},
    ):
        with pytest.raises(LazyMountError, match="lazy s3-mount m: "):
            command(**hostile)
    with pytest.raises(LazyMountError, match="space or a control character"):
        LazyMount("j", "p", "m", S3Source("s3://bkt/p", None, None, "AK", "se\ncret"), "/r").credentials_file()


def test_the_credentials_file_carries_a_session_token_and_the_command_line_none() -> None:
    source = S3Source("s3://bkt/pre", None, None, "ASIAKEY", "the-secret", "the-token")
    mount = LazyMount("j1", "p", "m", source, "/r")
    text = mount.credentials_file().decode()
    assert text.splitlines() == [
        "[dsjobs]",
        "aws_access_key_id = ASIAKEY",
        "aws_secret_access_key = the-secret",
        "aws_session_token = the-token",
    ]
    spec = mount.helper_spec("img", None)
    assert not any(v in repr(spec) + str(spec.entrypoint) for v in ("ASIAKEY", "the-secret", "the-token"))
    assert spec.env == {} and spec.fuse and spec.engine_binds["/r/j1-m"]["propagation"] == "rshared"


def test_a_helper_that_cannot_start_is_one_line_naming_the_setting_and_is_removed() -> None:
    from airflow_provider_dsjobs.resources.s3_lazy import start_helper
    from airflow_provider_dsjobs.runtime.errors import RuntimeFailure
    from tests.jobs.fake_runtime import FakeRuntime

    runtime = FakeRuntime()
    mount = LazyMount("j1", "p", "m", S3Source("s3://bkt/pre", None, None, "AK", "the-secret"), "/r")
    for reason, setting in (
        ('error gathering device information while adding custom device "/dev/fuse": no such file', "LAZY_MOUNTS"),
        ("path /r/j1-m is mounted on / but it is not a shared mount", "DSJOBS_LAZY_MOUNT_ROOT"),
    ):
        runtime.fail_next("start", RuntimeFailure(f"cannot start container abc: {reason}"))
        with pytest.raises(LazyMountError) as raised:
            start_helper(runtime, mount, "img", None)
        assert setting in str(raised.value) and "\n" not in str(raised.value)
        assert runtime.containers == {} and runtime.removed


def test_bad_lazy_mount_settings_are_one_line_naming_the_variable() -> None:
    for value in ("relative/dir", "/a,b", "/a/../etc", "/a b"):
        with pytest.raises(ValueError, match="DSJOBS_LAZY_MOUNT_ROOT must be an absolute path"):
            Settings.from_env({"DSJOBS_LAZY_MOUNT_ROOT": value})
    with pytest.raises(ValueError, match="DSJOBS_LAZY_MOUNTS must be 1 or 0"):
        Settings.from_env({"DSJOBS_LAZY_MOUNTS": "maybe"})
    settings = Settings.from_env({"DSJOBS_LAZY_MOUNTS": "1", "DSJOBS_S3FS_IMAGE": "img:1"})
    assert (settings.lazy_mounts, settings.s3fs_image, settings.lazy_mount_root) == (
        True,
        "img:1",
        "/var/lib/dsjobs/lazy-mounts",
    )


def test_a_read_write_mount_cannot_be_lazy(tmp_path: Path) -> None:
    registry = ConnectorRegistry(LocalStore(tmp_path), "p")
    with pytest.raises(ConnectorError, match="a read-write mount cannot be lazy"):
        registry.add("both", "s3://bkt/pre", read_write=True, lazy=True)
    assert registry.add("lazy", "s3://bkt/pre", lazy=True).lazy


def test_gc_removes_orphan_helpers_and_old_empty_mount_dirs_of_its_project_only(
    lazy_settings: Settings, test_image: str, docker_client: Any
) -> None:
    runtime = Runtime.connect(lazy_settings)
    other = f"t{uuid.uuid4().hex[:10]}"
    made = {}
    for project in (lazy_settings.project, other):
        labels = {HELPER_LABEL: HELPER_PURPOSE, LAZY_LABEL: "m", LABEL_PROJECT: project, LABEL_JOB_ID: "gone1"}
        made[project] = runtime.create(dataclasses.replace(_idle_spec(test_image), labels=labels))
    root = Path(lazy_settings.lazy_mount_root)
    old, fresh = root / f"jold{uuid.uuid4().hex[:8]}-m", root / f"jnew{uuid.uuid4().hex[:8]}-m"
    for directory in (old, fresh):
        directory.mkdir()
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    try:
        report = JobService(lazy_settings).gc()
        helper_name = docker_client.containers.get(made[other]).name  # still there: another project's
        helpers = _helpers_removed(report)
        assert len(helpers) == 1 and helper_name not in helpers and str(old) in report.lazy_mounts_removed
        assert runtime.state(made[lazy_settings.project]) is None
        assert not old.exists() and fresh.exists()
    finally:
        for cid in made.values():
            runtime.remove(cid)
        fresh.rmdir()


def test_a_cancelled_job_takes_its_helper_with_it_and_gc_leaves_an_active_jobs_helper(
    lazy_settings: Settings, lazy_bucket: dict[str, bytes], docker_client: Any, tmp_path: Path
) -> None:
    service, record, _ = _submit(lazy_settings, tmp_path)
    host_dir = f"{lazy_settings.lazy_mount_root}/{record.id}-lazy1"
    assert _helpers_removed(service.gc()) == []
    assert len(_helpers(docker_client, record.id)) == 1 and _mounted_on_host(host_dir)
    assert service.cancel(record.id).status == JobStatus.CANCELLED
    assert _helpers(docker_client, record.id) == [] and not _mounted_on_host(host_dir)


def test_gc_leaves_the_helper_of_a_job_another_store_runs_on_this_engine(
    lazy_settings: Settings, test_image: str
) -> None:
    """Two deployments (stores) share the engine and the project name: this store does not know the job, but its
    container still runs here, so its mount is in use and gc must not end it."""
    runtime = Runtime.connect(lazy_settings)
    job_id = f"jother{uuid.uuid4().hex[:8]}"
    job_labels = {LABEL_PROJECT: lazy_settings.project, LABEL_JOB_ID: job_id}
    helper_labels = {**job_labels, HELPER_LABEL: HELPER_PURPOSE, LAZY_LABEL: "m"}
    helper = runtime.create(dataclasses.replace(_idle_spec(test_image), labels=helper_labels))
    job = runtime.create(dataclasses.replace(_idle_spec(test_image), labels=job_labels))
    try:
        runtime.start(job)
        assert _helpers_removed(JobService(lazy_settings).gc()) == []
        assert runtime.state(helper) is not None
        runtime.remove(job)  # the job is over on its engine: now the helper is an orphan
        assert len(_helpers_removed(JobService(lazy_settings).gc())) == 1 and runtime.state(helper) is None
    finally:
        for cid in (helper, job):
            runtime.remove(cid)


def _helpers_removed(report: Any) -> list[str]:
    """The helpers a gc removed, without the old empty mount directories (of any project, and of earlier runs on
    this engine: they are an hour old by the next run) it removed beside them."""
    return [name for name in report.lazy_mounts_removed if not name.startswith("/")]


def _idle_spec(image: str) -> Any:
    from airflow_provider_dsjobs.runtime.containers import ContainerSpec

    return ContainerSpec(image=image, command=["sleep", "60"], env={}, labels={}, working_dir="/")


def test_s3_connector_add_lazy_from_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from airflow_provider_dsjobs.cli.main import main

    monkeypatch.setenv("DSJOBS_HOME", str(tmp_path / "home"))
    common = ["--store", (tmp_path / "store").as_uri(), "--project", "p"]
    assert main(["s3-connector", "add", "lz", "s3://bkt/pre", "--lazy", *common]) == 0
    capsys.readouterr()
    assert main(["s3-connector", "ls", "--format", "json", *common]) == 0
    [entry] = json.loads(capsys.readouterr().out)
    assert (entry["id"], entry["lazy"], entry["read_write"]) == ("lz", True, False)
    assert main(["s3-connector", "add", "both", "s3://bkt/pre", "--lazy", "--read-write", *common]) != 0
    err = capsys.readouterr().err.strip()
    assert "a read-write mount cannot be lazy" in err and "\n" not in err and "Traceback" not in err


def test_a_helper_whose_s3fs_gives_up_fails_the_launch_with_its_last_line(
    lazy_settings: Settings,
    lazy_bucket: dict[str, bytes],
    docker_client: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DSJOBS_S3_MOUNT_LAZY1", "s3://no-such-bucket-" + uuid.uuid4().hex[:8])
    record = _failed(lazy_settings, tmp_path)
    details = record.status_details or ""
    assert record.status == JobStatus.ERROR and record.container_id is None
    assert details.startswith("lazy s3-mount lazy1: s3fs stopped before mounting: "), details
    assert lazy_settings.aws_secret_access_key not in details
    assert _helpers(docker_client, record.id) == []
