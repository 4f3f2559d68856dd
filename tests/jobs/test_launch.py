"""``start_with_fallback`` without Docker: an engine that may not raise the GPU ulimits gets the job once more
without them (with a warning line), an engine that lacks resources gets the next type, other failures raise."""

from __future__ import annotations

import pytest

from airflow_provider_dsjobs.jobs.launch import start_with_fallback
from airflow_provider_dsjobs.runtime.containers import ContainerSpec
from airflow_provider_dsjobs.runtime.errors import RuntimeFailure
from airflow_provider_dsjobs.runtime.resources import GPU_ULIMITS, Placement, ResourceChoice

GPU = ResourceChoice("g1.1", 8_000_000_000, 8 << 30, [{"Driver": "nvidia", "Count": 1}], "fits", 4 << 30, GPU_ULIMITS)
CPU = ResourceChoice("c1.4", 4_000_000_000, 8 << 30, [], "fits", 4 << 30)
SPEC = ContainerSpec(image="img", command=["true"], env={}, labels={}, working_dir="/")


class Engine:
    """Starts refuse as scripted: each entry is raised (or None: the start succeeds)."""

    def __init__(self, *refusals: str | None) -> None:
        self.refusals = list(refusals)
        self.started: list[ResourceChoice] = []
        self.discarded = 0

    def start(self, spec: ContainerSpec) -> None:
        refusal = self.refusals.pop(0) if self.refusals else None
        if refusal:
            raise RuntimeFailure(refusal)
        assert spec.resources is not None
        self.started.append(spec.resources)

    def discard(self) -> None:
        self.discarded += 1


def test_refused_ulimits_run_the_job_without_them_and_say_so() -> None:
    engine, said = Engine("error setting rlimit type 8: operation not permitted"), []
    used = start_with_fallback(SPEC, Placement((GPU, CPU)), engine.start, engine.discard, said.append)
    assert used.name == "g1.1" and used.ulimits == () and used.device_requests == GPU.device_requests
    assert engine.started == [used] and engine.discarded == 1
    assert said == [
        "warning: the Docker engine may not raise the ulimits memlock=unlimited, stack=67108864 (its own limits "
        "are lower: give dockerd LimitMEMLOCK=infinity); running with the engine's defaults, which GPU/NCCL jobs "
        "may find too small"
    ]


def test_lack_of_resources_moves_on_and_other_failures_raise() -> None:
    engine, said = Engine('could not select device driver "nvidia"'), []
    assert start_with_fallback(SPEC, Placement((GPU, CPU)), engine.start, engine.discard, said.append) == CPU
    assert said and said[0].startswith("instance type g1.1 could not start")
    engine = Engine("no such image: img")
    with pytest.raises(RuntimeFailure, match="no such image"):
        start_with_fallback(SPEC, Placement((GPU, CPU)), engine.start, engine.discard, said.append)
    engine = Engine("error setting rlimit type 3", "error setting rlimit type 3")
    with pytest.raises(RuntimeFailure, match="rlimit"):  # retried once only, without ulimits: then it is real
        start_with_fallback(SPEC, Placement((GPU,)), engine.start, engine.discard, said.append)
