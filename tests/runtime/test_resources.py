"""Instance types, in priority order, against the engine's capacity and what runs there; GPU profiles need a GPU
engine; a cap is a message, never silent."""

from __future__ import annotations

import pytest

from airflow_provider_dsjobs.config.instance_types import BUILTIN_INSTANCE_TYPES, InstanceType
from airflow_provider_dsjobs.runtime.engine import EngineInfo
from airflow_provider_dsjobs.runtime.errors import RuntimeFailure
from airflow_provider_dsjobs.runtime.resources import (
    EngineLoad,
    ResourceChoice,
    choose_instance_type,
    engine_load,
    lacks_resources,
    place_instance_types,
    refuses_ulimits,
)

GIB = 1024**3
LAPTOP = EngineInfo(cpus=2, memory_bytes=24 * GIB, gpu_support=False, runtimes=("runc",), server_version="20.10")
BIG = EngineInfo(cpus=64, memory_bytes=1024 * GIB, gpu_support=False, runtimes=("runc",), server_version="24.0")
GPU = EngineInfo(cpus=64, memory_bytes=1024 * GIB, gpu_support=True, runtimes=("nvidia", "runc"), server_version="24")


def types(*names: str) -> list[InstanceType]:
    return [BUILTIN_INSTANCE_TYPES[n] for n in names]


def test_profile_is_capped_by_a_small_engine() -> None:
    choice = choose_instance_type(types("c1.4"), LAPTOP)
    assert (choice.name, choice.cpus, choice.mem_limit, choice.device_requests) == ("c1.4", 2, 24 * GIB, [])
    assert choice.note == (
        "no instance type fits as asked; capped to 2 CPUs and 24.0 GiB (needs 4 CPUs, the engine has 2 and needs "
        "32.0 GiB of memory, the engine has 24.0 GiB)"
    )


def test_the_first_type_that_fits_what_is_free_now_wins() -> None:
    busy = EngineLoad(cpus=60, memory_bytes=100 * GIB, containers=3)
    placement = place_instance_types(types("c1.80", "c1.8", "c1.4"), BIG, busy)
    assert [c.name for c in placement.choices] == ["c1.4"]
    assert placement.choices[0].note == "4 CPUs, 32.0 GiB: fits" and placement.choices[0].cpus == 4
    assert placement.skipped_before(placement.choices[0], ["c1.80", "c1.8", "c1.4"]) == [
        "c1.80: needs 80 CPUs, the engine has 64 (3 container(s) running there)",
        "c1.8: needs 8 CPUs, 4 of 64 free (3 container(s) running there)",
    ]
    idle = place_instance_types(types("c1.80", "c1.8", "c1.4"), BIG)
    assert [c.name for c in idle.choices] == ["c1.8", "c1.4"]  # in priority order: the next one if c1.8 cannot start


def test_engine_refusals_for_lack_of_resources_are_recognised() -> None:
    assert lacks_resources(RuntimeError('could not select device driver "nvidia" with capabilities: [[gpu]]'))
    assert lacks_resources(RuntimeError("Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available"))
    assert not lacks_resources(RuntimeError("no such image: nope:1"))


def test_profile_limits_apply_on_a_big_engine() -> None:
    choice = choose_instance_type(types("c1.8"), BIG)
    assert (choice.nano_cpus, choice.mem_limit) == (8_000_000_000, 64 * GIB)


def test_gpu_profile_is_skipped_for_the_next_in_priority_order() -> None:
    assert choose_instance_type(types("g1.1", "c1.4"), LAPTOP).name == "c1.4"


def test_gpu_profile_requests_gpus_on_a_gpu_engine() -> None:
    choice = choose_instance_type(types("g1.2", "c1.4"), GPU)
    assert choice.name == "g1.2"
    assert choice.device_requests == [{"Driver": "nvidia", "Count": 2, "Capabilities": [["gpu"]]}]


def test_nothing_fits_lists_every_try() -> None:
    with pytest.raises(RuntimeFailure) as caught:
        choose_instance_type(types("g1.1", "gt4.1"), LAPTOP)
    message = str(caught.value)
    assert message.startswith("no instance type fits this Docker engine; tried g1.1: needs 1 GPU(s) (V100)")
    assert "gt4.1: needs 1 GPU(s) (T4); the engine has no GPU support (no nvidia runtime)" in message


def test_live_engine_runs_c1_4(engine: object) -> None:
    from airflow_provider_dsjobs.runtime.engine import DockerEngine

    assert isinstance(engine, DockerEngine)
    info = engine.info()
    choice = choose_instance_type(types("c1.4"), info)
    assert choice.cpus == min(4, info.cpus)
    assert choice.mem_limit == min(32 * GIB, info.memory_bytes)


def test_live_engine_load_counts_the_limits_of_running_containers(runtime: object) -> None:
    from tests.runtime.helpers import TrackingRuntime

    assert isinstance(runtime, TrackingRuntime)
    runtime.run("sleep 30", resources=ResourceChoice("probe", 250_000_000, 64 * 1024**2))
    after = engine_load(runtime.engine)
    # The engine is shared: others' containers may add to it, ours alone guarantees these.
    assert after.containers >= 1 and after.cpus >= 0.25 and after.memory_bytes >= 64 * 1024**2


def test_shm_is_half_the_memory_or_the_types_own_within_the_limit() -> None:
    c14 = choose_instance_type(types("c1.4"), BIG)
    assert c14.shm_size == 16 * GIB  # half of 32 GiB, as a VM's /dev/shm
    capped = choose_instance_type(types("c1.4"), LAPTOP)
    assert capped.shm_size == 16 * GIB and capped.shm_size <= capped.mem_limit
    own = InstanceType("big.shm", cpus=1, memory_bytes=8 * GIB, shm_bytes=6 * GIB)
    small = EngineInfo(cpus=2, memory_bytes=4 * GIB, gpu_support=False, runtimes=("runc",), server_version="x")
    assert choose_instance_type([own], BIG).shm_size == 6 * GIB
    assert choose_instance_type([own], small).shm_size == 4 * GIB  # never above what the container may use


def test_no_type_named_runs_with_the_engines_resources_and_no_message() -> None:
    placement = place_instance_types([], LAPTOP)
    (choice,) = placement.choices
    assert (choice.name, choice.nano_cpus, choice.mem_limit, choice.shm_size) == ("", 0, 0, 12 * GIB)
    assert "capped" not in choice.note and placement.notes == ()


def test_ulimits_stack_for_every_job_memlock_for_gpu_types() -> None:
    cpu = choose_instance_type(types("c1.8"), BIG)
    assert cpu.ulimits == ({"Name": "stack", "Soft": 64 << 20, "Hard": 64 << 20},)
    gpu = choose_instance_type(types("g1.1"), GPU)
    assert {"Name": "memlock", "Soft": -1, "Hard": -1} in gpu.ulimits and len(gpu.ulimits) == 2
    assert refuses_ulimits(RuntimeError("error setting rlimit type 8: operation not permitted"))
    assert not refuses_ulimits(RuntimeError("no such image"))


def test_gpu_model_is_matched_where_the_engine_says_which_it_has() -> None:
    t4_engine = EngineInfo(
        cpus=64,
        memory_bytes=1024 * GIB,
        gpu_support=True,
        runtimes=("nvidia",),
        server_version="24",
        gpu_models=("T4",),
    )
    placement = place_instance_types(types("g2.1", "gt4.1"), t4_engine)
    assert [c.name for c in placement.choices] == ["gt4.1"]
    assert placement.notes == ("g2.1: needs 1 GPU(s) (A100); the engine's GPUs are T4",)
    # an engine that does not say which GPUs it has: the count is asked for, the model is not checked
    assert choose_instance_type(types("g2.1"), GPU).device_requests == [
        {"Driver": "nvidia", "Count": 1, "Capabilities": [["gpu"]]}
    ]


def test_a_type_from_a_catalog_is_placed_like_a_builtin_one() -> None:
    team = InstanceType("cpu.small", cpus=0.5, memory_bytes=512 << 20)
    choice = choose_instance_type([team], LAPTOP)
    assert (choice.name, choice.nano_cpus, choice.mem_limit) == ("cpu.small", 500_000_000, 512 << 20)
    assert choice.note == "0.5 CPUs, 0.5 GiB: fits"
