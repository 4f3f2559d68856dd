"""Instance types become container limits capped by the engine; GPU profiles need a GPU engine."""

from __future__ import annotations

import pytest

from airflow_provider_dsjobs.runtime.engine import EngineInfo
from airflow_provider_dsjobs.runtime.errors import RuntimeFailure
from airflow_provider_dsjobs.runtime.resources import choose_instance_type

GIB = 1024**3
LAPTOP = EngineInfo(cpus=2, memory_bytes=24 * GIB, gpu_support=False, runtimes=("runc",), server_version="20.10")
BIG = EngineInfo(cpus=64, memory_bytes=1024 * GIB, gpu_support=False, runtimes=("runc",), server_version="24.0")
GPU = EngineInfo(cpus=64, memory_bytes=1024 * GIB, gpu_support=True, runtimes=("nvidia", "runc"), server_version="24")


def test_profile_is_capped_by_a_small_engine() -> None:
    choice = choose_instance_type(["c1.4"], LAPTOP)
    assert (choice.name, choice.cpus, choice.mem_limit, choice.device_requests) == ("c1.4", 2, 24 * GIB, [])


def test_profile_limits_apply_on_a_big_engine() -> None:
    choice = choose_instance_type(["c1.8"], BIG)
    assert (choice.nano_cpus, choice.mem_limit) == (8_000_000_000, 64 * GIB)


def test_gpu_profile_is_skipped_for_the_next_in_priority_order() -> None:
    assert choose_instance_type(["g1.1", "c1.4"], LAPTOP).name == "c1.4"


def test_gpu_profile_requests_gpus_on_a_gpu_engine() -> None:
    choice = choose_instance_type(["g1.2", "c1.4"], GPU)
    assert choice.name == "g1.2"
    assert choice.device_requests == [{"Driver": "nvidia", "Count": 2, "Capabilities": [["gpu"]]}]


def test_nothing_fits_lists_every_try() -> None:
    with pytest.raises(RuntimeFailure) as caught:
        choose_instance_type(["g1.1", "nope.1"], LAPTOP)
    message = str(caught.value)
    assert message.startswith("no instance type fits this Docker engine; tried g1.1: needs 1 GPU(s) (V100)")
    assert "the engine has no GPU support" in message
    assert "nope.1: unknown instance type (known: c1.4, c1.8" in message


def test_live_engine_runs_c1_4(engine: object) -> None:
    from airflow_provider_dsjobs.runtime.engine import DockerEngine

    assert isinstance(engine, DockerEngine)
    info = engine.info()
    choice = choose_instance_type(["c1.4"], info)
    assert choice.cpus == min(4, info.cpus)
    assert choice.mem_limit == min(32 * GIB, info.memory_bytes)
