"""Turning ``cloud-instance-types`` into container limits on the engine at hand.

Profiles are tried in the config's priority order. A GPU profile needs GPU support on the engine (the nvidia
runtime); CPU and memory are caps, limited to what the engine has, so ``c1.4`` (4 CPUs, 32 GB) runs on a 2-core
laptop with 2 CPUs and its memory. The first profile that fits wins; if none fits, one line says what was tried and why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_dsjobs.config.instance_types import KNOWN_INSTANCE_TYPES, InstanceType
from airflow_provider_dsjobs.runtime.engine import EngineInfo
from airflow_provider_dsjobs.runtime.errors import RuntimeFailure

_GIB = 1024**3
_NANO = 1_000_000_000


@dataclass(frozen=True)
class ResourceChoice:
    """The instance type used and the HostConfig limits it became (``device_requests`` as engine API dicts)."""

    name: str
    nano_cpus: int
    mem_limit: int
    device_requests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def cpus(self) -> float:
        return self.nano_cpus / _NANO


def _why_not(profile: InstanceType, engine: EngineInfo) -> str | None:
    if profile.gpus and not engine.gpu_support:
        return f"needs {profile.gpus} GPU(s) ({profile.gpu_model}); the engine has no GPU support (no nvidia runtime)"
    return None


def _limits(profile: InstanceType, engine: EngineInfo) -> ResourceChoice:
    cpus = min(profile.cpus, engine.cpus) if engine.cpus > 0 else profile.cpus
    memory = profile.memory_gb * _GIB
    if engine.memory_bytes > 0:
        memory = min(memory, engine.memory_bytes)
    requests: list[dict[str, Any]] = []
    if profile.gpus:
        requests.append({"Driver": "nvidia", "Count": profile.gpus, "Capabilities": [["gpu"]]})
    return ResourceChoice(name=profile.name, nano_cpus=cpus * _NANO, mem_limit=memory, device_requests=requests)


def choose_instance_type(names: Sequence[str], engine_info: EngineInfo) -> ResourceChoice:
    """The first profile of ``names`` the engine can run, as container limits."""
    if not names:
        raise RuntimeFailure("no instance type to choose from")
    tried: list[str] = []
    for name in names:
        profile = KNOWN_INSTANCE_TYPES.get(name)
        if profile is None:
            tried.append(f"{name}: unknown instance type (known: {', '.join(KNOWN_INSTANCE_TYPES)})")
            continue
        reason = _why_not(profile, engine_info)
        if reason is None:
            return _limits(profile, engine_info)
        tried.append(f"{name}: {reason}")
    raise RuntimeFailure("no instance type fits this Docker engine; tried " + "; ".join(tried))
