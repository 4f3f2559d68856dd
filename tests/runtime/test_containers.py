"""Job containers on the real engine: files in, logs out, exit codes, files back, finding and cleaning up."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import time
from pathlib import Path

import pytest
import requests

from airflow_provider_dsjobs.config.instance_types import BUILTIN_INSTANCE_TYPES
from airflow_provider_dsjobs.runtime.containers import ContainerSpec, Runtime
from airflow_provider_dsjobs.runtime.errors import ContainerNotFound, PathNotFound, RuntimeFailure
from airflow_provider_dsjobs.runtime.resources import choose_instance_type
from airflow_provider_dsjobs.runtime.tarstream import TarDir, TarEntry, TarFile, extract_stream, tar_stream
from tests.runtime.helpers import TrackingRuntime

pytestmark = [pytest.mark.docker, pytest.mark.timeout(120)]


def wait_exited(rt: Runtime, container_id: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = rt.state(container_id)
        assert state is not None
        if state.finished:
            return
        time.sleep(0.1)
    raise AssertionError(f"{container_id} did not exit")


def logs(rt: Runtime, container_id: str, **kwargs: object) -> list[tuple[str, str]]:
    return list(rt.stream_logs(container_id, **kwargs))  # type: ignore[arg-type]


def test_files_delivered_by_tar_stream_arrive_intact(runtime: TrackingRuntime, tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    with big.open("wb") as fh:
        for _ in range(5):
            fh.write(os.urandom(1024 * 1024))
    small = b"hello from the submitting machine\n"
    nested = os.urandom(70_000)
    entries: list[TarEntry] = [
        TarDir("job"),
        TarDir("job/inputs"),
        TarDir("job/inputs/deep"),
        TarDir("job/inputs/deep/er"),
        TarFile("job/inputs/hello.txt", len(small), lambda: io.BytesIO(small)),
        TarFile("job/inputs/deep/er/nested.bin", len(nested), lambda: io.BytesIO(nested)),
        TarFile("job/inputs/big.bin", big.stat().st_size, lambda: big.open("rb"), mode=0o600),
    ]
    script = "cat hello.txt; sha256sum big.bin deep/er/nested.bin; stat -c %a big.bin"
    cid = runtime.create(runtime.spec(script, working_dir="/job/inputs"))
    runtime.put_archive(cid, "/", tar_stream(entries, chunk_size=256 * 1024))
    runtime.start(cid)
    out = logs(runtime, cid)
    assert runtime.wait(cid) == 0
    digest_big = hashlib.sha256(big.read_bytes()).hexdigest()
    assert out == [
        ("stdout", small.decode().rstrip("\n")),
        ("stdout", f"{digest_big}  big.bin"),
        ("stdout", f"{hashlib.sha256(nested).hexdigest()}  deep/er/nested.bin"),
        ("stdout", "600"),
    ]


def test_put_archive_into_missing_directory_is_clear(runtime: TrackingRuntime) -> None:
    cid = runtime.create(runtime.spec("true"))
    with pytest.raises(RuntimeFailure, match="cannot unpack files into /no/such/dir"):
        runtime.put_archive(cid, "/no/such/dir", tar_stream([TarDir("x")]))


def test_stdout_and_stderr_are_separated_and_lines_reassembled(runtime: TrackingRuntime) -> None:
    script = (
        "echo out-1; echo err-1 >&2; echo out-2; printf 'err-partial' >&2; sleep 0.2; echo ' done' >&2;"
        " printf '\\377bad utf8\\n'; printf 'last line without newline'"
    )
    cid = runtime.run(script)
    out = logs(runtime, cid)
    assert [line for stream, line in out if stream == "stdout"] == [
        "out-1",
        "out-2",
        "\ufffdbad utf8",
        "last line without newline",
    ]
    assert [line for stream, line in out if stream == "stderr"] == ["err-1", "err-partial done"]


def test_a_200_kb_line_is_split_into_bounded_parts(runtime: TrackingRuntime) -> None:
    cid = runtime.run("python -c \"import sys; sys.stdout.write('x' * 200000 + '\\n'); print('after')\"")
    out = logs(runtime, cid)
    assert [len(line) for _, line in out] == [65536, 65536, 65536, 200000 - 3 * 65536, 5]
    assert "".join(line for _, line in out[:4]) == "x" * 200000
    assert out[-1] == ("stdout", "after")


def test_no_first_lines_lost_and_no_hang_on_exited_container(runtime: TrackingRuntime) -> None:
    script = "for i in 1 2 3 4 5; do echo line-$i; done; echo oops >&2; exit 3"
    # Read while it runs (started just before we attach) ...
    cid = runtime.run(script)
    first = logs(runtime, cid)
    # ... and after it has long exited: the same lines, and the stream ends by itself.
    wait_exited(runtime, cid)
    started = time.monotonic()
    again = logs(runtime, cid)
    assert time.monotonic() - started < 10
    # Docker copies stdout and stderr separately, so only the order within each stream is defined.
    expected = {("stdout", f"line-{i}") for i in range(1, 6)} | {("stderr", "oops")}
    assert [line for line in first if line[0] == "stdout"] == [("stdout", f"line-{i}") for i in range(1, 6)]
    assert set(first) == expected and len(first) == 6
    assert sorted(again) == sorted(first)
    assert runtime.wait(cid) == 3
    state = runtime.state(cid)
    assert state is not None
    assert (state.status, state.exit_code, state.oom_killed) == ("exited", 3, False)
    assert state.started_at is not None and state.finished_at is not None
    # Docker records StartedAt slightly after the process really starts: a very short run may "finish" first.
    assert abs((state.finished_at - state.started_at).total_seconds()) < 30


def test_logs_since_and_without_follow(runtime: TrackingRuntime) -> None:
    cid = runtime.run("echo early; sleep 2; echo late")
    wait_exited(runtime, cid)
    state = runtime.state(cid)
    assert state is not None and state.started_at is not None
    assert [line for _, line in logs(runtime, cid, follow=False)] == ["early", "late"]
    since = state.started_at.timestamp() + 1
    assert [line for _, line in logs(runtime, cid, since=since)] == ["late"]


def test_exit_code_zero_and_states(runtime: TrackingRuntime) -> None:
    cid = runtime.create(runtime.spec("sleep 1"))
    created = runtime.state(cid)
    assert created is not None
    assert (created.status, created.exit_code, created.started_at) == ("created", None, None)
    runtime.start(cid)
    running = runtime.state(cid)
    assert running is not None and running.status == "running" and running.exit_code is None
    assert runtime.wait(cid, timeout=30) == 0
    done = runtime.state(cid)
    assert done is not None and (done.status, done.exit_code) == ("exited", 0)


def test_wait_timeout(runtime: TrackingRuntime) -> None:
    from airflow_provider_dsjobs.runtime.errors import WaitTimeout

    cid = runtime.run("sleep 30")
    with pytest.raises(WaitTimeout, match="still running after 1s"):
        runtime.wait(cid, timeout=1)


def test_export_directory_written_by_container(runtime: TrackingRuntime, tmp_path: Path) -> None:
    script = (
        "mkdir -p /out/result/sub && echo hello > /out/result/a.txt"
        " && head -c 3000000 /dev/urandom > /out/result/sub/b.bin"
        " && cd /out/result && sha256sum a.txt sub/b.bin"
    )
    cid = runtime.run(script)
    assert runtime.wait(cid) == 0
    printed = {line.split()[1]: line.split()[0] for _, line in logs(runtime, cid)}

    # As a stream of members, without touching the disk.
    with runtime.export(cid, "/out/result") as reader, reader.open_tar() as archive:
        assert reader.stat["name"] == "result"
        seen = {}
        for member in archive:
            if member.isfile():
                handle = archive.extractfile(member)
                assert handle is not None
                digest = hashlib.sha256()
                while chunk := handle.read(65536):
                    digest.update(chunk)
                seen[member.name] = digest.hexdigest()
    assert seen == {"result/a.txt": printed["a.txt"], "result/sub/b.bin": printed["sub/b.bin"]}

    # And extracted into a local directory.
    with runtime.export(cid, "/out/result") as reader:
        files = extract_stream(reader, tmp_path / "got", strip_components=1)
    assert sorted(files) == ["a.txt", "sub/b.bin"]
    assert (tmp_path / "got" / "a.txt").read_text() == "hello\n"
    assert hashlib.sha256((tmp_path / "got" / "sub" / "b.bin").read_bytes()).hexdigest() == printed["sub/b.bin"]


def test_export_is_not_compressed_on_the_wire(runtime: TrackingRuntime, monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine gzips an archive when the client accepts gzip, which made export 8x slower: the request must ask
    for identity, so what crosses the wire is the plain tar (observed with a requests response hook)."""
    seen: list[tuple[str, str, str | None]] = []

    def record(response: requests.Response, *args: object, **kwargs: object) -> None:
        request = response.request
        seen.append(
            (request.path_url, str(request.headers.get("Accept-Encoding")), response.headers.get("Content-Encoding"))
        )

    monkeypatch.setitem(runtime.api.hooks, "response", [record])
    cid = runtime.run("mkdir -p /out && yes compressible | head -c 2000000 > /out/text.txt")
    assert runtime.wait(cid) == 0
    with runtime.export(cid, "/out/text.txt") as reader, reader.open_tar() as archive:
        member = archive.next()
        assert member is not None and member.size == 2_000_000
    archive_requests = [row for row in seen if "/archive?" in row[0]]
    assert archive_requests, seen
    assert all(accept == "identity" and encoding is None for _, accept, encoding in archive_requests), archive_requests


def test_export_of_missing_path(runtime: TrackingRuntime) -> None:
    cid = runtime.run("true")
    runtime.wait(cid)
    with pytest.raises(PathNotFound, match="/out/missing does not exist in container"):
        runtime.export(cid, "/out/missing")


def test_find_by_labels_includes_exited_and_remove_is_idempotent(runtime: TrackingRuntime) -> None:
    done = runtime.run("true", labels={**runtime.labels, "dsjobs.job": "a"})
    waiting = runtime.create(runtime.spec("true", labels={**runtime.labels, "dsjobs.job": "b"}))
    runtime.wait(done)
    found = {c.id: c for c in runtime.find({"dsjobs.test.run": runtime.run_id})}
    assert set(found) == {done, waiting}
    assert found[done].status == "exited" and found[waiting].status == "created"
    assert found[done].labels["dsjobs.managed"] == "1" and found[done].labels["dsjobs.job"] == "a"
    assert [c.id for c in runtime.find({"dsjobs.test.run": runtime.run_id, "dsjobs.job": "b"})] == [waiting]
    assert runtime.find({"dsjobs.test.run": "no-such-run"}) == []

    runtime.remove(done)
    runtime.remove(done)  # already gone: fine
    assert runtime.state(done) is None
    with pytest.raises(ContainerNotFound):
        logs(runtime, done)
    with pytest.raises(ContainerNotFound):
        runtime.stop(done, signal=None)
    assert [c.id for c in runtime.find({"dsjobs.test.run": runtime.run_id})] == [waiting]


def test_named_volumes_persist_and_host_paths_are_refused(runtime: TrackingRuntime) -> None:
    name = f"dsjobs-test-{runtime.run_id}"
    labels = {"dsjobs.test.run": runtime.run_id}
    assert runtime.create_volume(name, labels) == name
    assert runtime.list_volumes(labels) == [name]
    writer = runtime.run("echo kept > /vol/file", volumes={name: {"bind": "/vol"}})
    assert runtime.wait(writer) == 0
    reader = runtime.run("cat /vol/file", volumes={name: {"bind": "/vol", "mode": "ro"}})
    assert runtime.wait(reader) == 0
    assert logs(runtime, reader) == [("stdout", "kept")]
    runtime.remove(writer)
    runtime.remove(reader)
    runtime.remove_volume(name)
    runtime.remove_volume(name)
    assert runtime.list_volumes(labels) == []

    for host_path in ("/etc", "./data", "~/x"):
        with pytest.raises(RuntimeFailure, match="only named volumes are supported"):
            runtime.create(runtime.spec("true", volumes={host_path: {"bind": "/mnt"}}))


def test_resource_limits_reach_the_container(runtime: TrackingRuntime) -> None:
    info = runtime.engine.info()
    choice = choose_instance_type([BUILTIN_INSTANCE_TYPES["g1.1"], BUILTIN_INSTANCE_TYPES["c1.4"]], info)
    cid = runtime.run("cat /sys/fs/cgroup/cpu.max /sys/fs/cgroup/memory.max 2>/dev/null || true", resources=choice)
    assert runtime.wait(cid) == 0
    inspected = runtime.api.inspect_container(cid)["HostConfig"]
    assert inspected["NanoCpus"] == min(4, info.cpus) * 10**9
    assert inspected["Memory"] == min(32 * 1024**3, info.memory_bytes)
    lines = [line for _, line in logs(runtime, cid)]
    if lines:  # cgroup v2: what the program itself sees
        quota, period = lines[0].split()
        assert int(quota) / int(period) == min(4, info.cpus)


def test_env_user_workdir_and_name(runtime: TrackingRuntime) -> None:
    name = f"dsjobs-test-{runtime.run_id}"
    cid = runtime.run(
        'echo "$GREETING" "$(id -u)" "$(pwd)"',
        env={"GREETING": "hi there"},
        user="1234",
        working_dir="/tmp",
        name=name,
    )
    assert runtime.wait(cid) == 0
    assert logs(runtime, cid) == [("stdout", "hi there 1234 /tmp")]
    with pytest.raises(RuntimeFailure, match=f"a container named {name} already exists"):
        runtime.create(runtime.spec("true", name=name))


def test_missing_image_is_clear(runtime: TrackingRuntime) -> None:
    with pytest.raises(RuntimeFailure, match="image dsjobs-test/absent:0 is not on the Docker engine"):
        runtime.create(runtime.spec("true", image="dsjobs-test/absent:0"))


def test_spec_repr_hides_env_values() -> None:
    spec = ContainerSpec("img", ["true"], {"TOKEN": "hunter2"}, {}, "/")
    assert "hunter2" not in repr(spec) and "TOKEN" in repr(spec)


def test_logs_of_a_container_never_started_end_at_once(runtime: TrackingRuntime) -> None:
    cid = runtime.create(runtime.spec("echo never"))
    started = time.monotonic()
    assert logs(runtime, cid) == []
    assert time.monotonic() - started < 5


def _cut_log_requests_after(frames: int, monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """Fault injection: every log request the runtime makes "drops" after ``frames`` frames. Returns the ``since``
    of each request made, so a test can check the reads were resumed rather than restarted."""
    original = Runtime._log_frames
    requests_made: list[str | None] = []

    def flaky(self: Runtime, container_id: str, *, follow: bool, since: str | None, tty: bool):  # type: ignore[no-untyped-def]
        requests_made.append(since)
        for n, frame in enumerate(original(self, container_id, follow=follow, since=since, tty=tty)):
            if n == frames:
                return  # the connection drops
            yield frame

    monkeypatch.setattr(Runtime, "_log_frames", flaky)
    return requests_made


def test_log_stream_resumes_after_a_dropped_connection_without_duplicates(
    runtime: TrackingRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fault injection: every logs request is cut after 3 frames while the container keeps printing."""
    requests_made = _cut_log_requests_after(3, monkeypatch)
    cid = runtime.run("for i in $(seq 1 20); do echo line-$i; echo same; sleep 0.05; done; printf end")
    out = [line for _, line in logs(runtime, cid)]
    assert out == [x for i in range(1, 21) for x in (f"line-{i}", "same")] + ["end"]
    assert len(requests_made) > 5 and all(since is not None for since in requests_made[1:])


def test_a_non_following_read_that_breaks_off_is_resumed(
    runtime: TrackingRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fault injection: reading an exited container's log, every request is cut after 3 frames."""
    cid = runtime.run("for i in $(seq 1 10); do echo out-$i; echo err-$i >&2; sleep 0.05; done; printf end")
    wait_exited(runtime, cid)
    requests_made = _cut_log_requests_after(3, monkeypatch)
    out = logs(runtime, cid, follow=False)
    assert [line for stream, line in out if stream == "stdout"] == [f"out-{i}" for i in range(1, 11)] + ["end"]
    assert [line for stream, line in out if stream == "stderr"] == [f"err-{i}" for i in range(1, 11)]
    assert len(requests_made) > 5


def test_shm_and_stack_reach_the_program(runtime: TrackingRuntime) -> None:
    """What DataLoader workers and NCCL see: /dev/shm as the type sizes it (not Docker's 64 MB), a 64 MiB stack."""
    info = runtime.engine.info()
    choice = choose_instance_type([BUILTIN_INSTANCE_TYPES["c1.4"]], info)
    script = "df -k /dev/shm | tail -1; ulimit -s; head -c 100000000 /dev/zero > /dev/shm/big && echo wrote"
    cid = runtime.run(script, resources=choice)
    assert runtime.wait(cid) == 0
    lines = [line for _, line in logs(runtime, cid)]
    assert int(lines[0].split()[1]) * 1024 == choice.shm_size == min(16 << 30, info.memory_bytes)
    assert lines[1] == str(64 * 1024) and lines[2] == "wrote"  # 100 MB fits; Docker's default 64 MB would not
    host = runtime.api.inspect_container(cid)["HostConfig"]
    assert host["ShmSize"] == choice.shm_size
    assert host["Ulimits"] == [{"Name": "stack", "Soft": 64 << 20, "Hard": 64 << 20}]


def test_a_gpu_type_asks_the_engine_for_its_gpus(runtime: TrackingRuntime) -> None:
    """What the engine receives for a GPU type (created, not started: this engine has no GPU)."""
    gpu_engine = dataclasses.replace(runtime.engine.info(), gpu_support=True)
    choice = choose_instance_type([BUILTIN_INSTANCE_TYPES["g1.2"]], gpu_engine)
    host = runtime.api.inspect_container(runtime.create(runtime.spec("true", resources=choice)))["HostConfig"]
    (request,) = host["DeviceRequests"]
    assert (request["Driver"], request["Count"], request["Capabilities"]) == ("nvidia", 2, [["gpu"]])
    assert {"Name": "memlock", "Soft": -1, "Hard": -1} in host["Ulimits"]
