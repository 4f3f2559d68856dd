"""The runtime protocol's guarantees (``runtime/base.py``) checked on the Docker runtime and on the in-memory fake
the lifecycle tests use (``tests/jobs/fake_runtime.py``), side by side: when the fake drifts from the engine, a
lifecycle test on the fake would prove nothing, so the same assertions run against both. Only what needs no
running program is compared (the fake runs none); the Docker tests in this folder cover the rest."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator

import pytest

from airflow_provider_dsjobs.runtime.base import ContainerRuntime
from airflow_provider_dsjobs.runtime.containers import ContainerSpec
from airflow_provider_dsjobs.runtime.errors import ContainerNotFound, PathNotFound
from airflow_provider_dsjobs.runtime.tarstream import TarDir, TarFile, tar_stream
from tests.jobs.fake_runtime import FakeRuntime
from tests.runtime.helpers import TrackingRuntime

MISSING = "0" * 64


@pytest.fixture(params=["docker", "fake"])
def any_runtime(request: pytest.FixtureRequest) -> Iterator[tuple[ContainerRuntime, ContainerSpec]]:
    """A runtime and the spec of a container it can create (never started: the fake runs no program)."""
    if request.param == "fake":
        yield FakeRuntime(), ContainerSpec("img:1", ["true"], {}, {"dsjobs.test.run": "fake"}, "/")
        return
    runtime: TrackingRuntime = request.getfixturevalue("runtime")
    yield runtime, runtime.spec("true")


def _tar(name: str, content: bytes) -> Iterator[bytes]:
    return tar_stream([TarDir("box"), TarFile(f"box/{name}", len(content), lambda: io.BytesIO(content))])


def test_a_missing_container_is_none_or_container_not_found(
    any_runtime: tuple[ContainerRuntime, ContainerSpec],
) -> None:
    runtime, _ = any_runtime
    assert runtime.state(MISSING) is None
    runtime.remove(MISSING)  # nothing to do
    with pytest.raises(ContainerNotFound):
        list(runtime.stream_logs(MISSING, follow=False))
    with pytest.raises(ContainerNotFound):
        runtime.export(MISSING, "/etc")
    with pytest.raises(ContainerNotFound):
        runtime.start(MISSING)


def test_a_created_container_is_found_by_label_and_not_running(
    any_runtime: tuple[ContainerRuntime, ContainerSpec],
) -> None:
    runtime, spec = any_runtime
    cid = runtime.create(spec)
    state = runtime.state(cid)
    assert state is not None and (state.status, state.finished, state.exit_code) == ("created", False, None)
    key, value = next(iter(spec.labels.items()))
    assert cid in [c.id for c in runtime.find({key: value})]
    assert cid in [c.id for c in runtime.find({key: None})]  # None: any value
    assert cid not in [c.id for c in runtime.find({key: value + "-other"})]
    assert runtime.stop(cid, signal=None).outcome == "not_running"
    runtime.remove(cid)
    assert runtime.state(cid) is None


def test_files_put_in_come_back_out_and_a_missing_path_is_path_not_found(
    any_runtime: tuple[ContainerRuntime, ContainerSpec],
) -> None:
    runtime, spec = any_runtime
    cid = runtime.create(spec)
    try:
        runtime.put_archive(cid, "/tmp", _tar("in.txt", b"delivered\n"))
        got = []
        with runtime.export(cid, "/tmp/box/in.txt") as reader, reader.open_tar() as archive:
            for member in archive:  # a stream: each member is read before the next
                fh = archive.extractfile(member) if member.isfile() else None
                got.append((member.name, fh.read() if fh is not None else None))
        assert got == [("in.txt", b"delivered\n")]
        with pytest.raises(PathNotFound):
            runtime.export(cid, f"/tmp/box/{uuid.uuid4().hex}")
    finally:
        runtime.remove(cid)
