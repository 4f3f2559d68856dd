"""Turning ``cloud-instance-types`` into container limits on the engine at hand, in the config's priority order.

``place_instance_types`` weighs each profile against the engine's capacity (``EngineInfo``) minus what the
containers already running there hold (``EngineLoad``: their CPU and memory limits and GPU requests):

* a profile that fits what is free now is a candidate, as asked;
* one that needs a GPU the engine cannot give (no nvidia runtime, or GPUs of another model where the engine says
  which it has), is skipped;
* one that needs more CPUs or memory than the engine has, or than is free, is skipped too — and when no profile
  fits, the first of these runs **capped** to the engine's size, with a message saying so (Docker limits are caps,
  not reservations: a capped job runs, slower). Nothing is capped silently.

The candidates come in priority order; the launcher takes the first and moves to the next when the engine refuses
to start it for lack of resources (``lacks_resources``: e.g. no GPU to assign). ``Placement.notes`` says why each
earlier profile was passed over. With no candidate at all, one error lists every profile and why. A job that
names no instance type runs with what the engine has: no CPU or memory limit, and no message about capping.

Every choice also sizes ``/dev/shm`` (the profile's ``shm``, else half its memory, as on a VM; Docker's default
is 64 MB, where PyTorch DataLoader workers and NCCL fail) and sets the limits GPU and NCCL jobs need: a 64 MiB
stack for every job, and unlimited locked memory for a GPU type (``GPU_ULIMITS``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import docker

from airflow_provider_dsjobs.config.instance_types import InstanceType
from airflow_provider_dsjobs.runtime.engine import DockerEngine, EngineInfo
from airflow_provider_dsjobs.runtime.errors import RuntimeFailure, reason_of

_GIB = 1024**3
_NANO = 1_000_000_000
#: Engine messages that mean "not enough of something" (a GPU that cannot be assigned, a limit over the host's).
_LACK_RE = re.compile(
    r"could not select device driver|insufficient|not enough|unknown device|no such device|out of memory|"
    r"cannot allocate memory|range of cpus|gpu",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ResourceChoice:
    """The instance type used and the HostConfig limits it became (``device_requests`` as engine API dicts);
    ``note`` says why it was chosen (or how it was capped)."""

    name: str  # "" when the job named no instance type
    nano_cpus: int  # 0: no limit
    mem_limit: int  # 0: no limit
    device_requests: list[dict[str, Any]] = field(default_factory=list)
    note: str = ""
    shm_size: int = 0  # bytes of /dev/shm; 0: the engine's default
    #: engine API ``Ulimit`` dicts (``ULIMITS``; () where the engine may not raise them)
    ulimits: tuple[dict[str, Any], ...] = ()

    @property
    def cpus(self) -> float:
        return self.nano_cpus / _NANO


@dataclass(frozen=True)
class EngineLoad:
    """What the containers running on the engine hold: the sum of their limits (unlimited ones count 0)."""

    cpus: float = 0.0
    memory_bytes: int = 0
    gpus: int = 0
    containers: int = 0


@dataclass(frozen=True)
class Placement:
    """The profiles to try, in order, and why each one not among them was passed over (``name: reason``)."""

    choices: tuple[ResourceChoice, ...]
    notes: tuple[str, ...] = ()

    def skipped_before(self, choice: ResourceChoice, names: Sequence[str]) -> list[str]:
        """The notes of the profiles ahead of ``choice`` in the config's order."""
        ahead = set(names[: list(names).index(choice.name)]) if choice.name in names else set()
        return [n for n in self.notes if n.partition(":")[0] in ahead]


def refuses_ulimits(exc: BaseException) -> bool:
    """Whether a start failed because the engine may not set a ulimit this high (runc: "error setting rlimit")."""
    return "setting rlimit" in str(exc)


def lacks_resources(exc: BaseException) -> bool:
    """Whether an engine refusal means a lack of resources (worth trying the next instance type)."""
    return bool(_LACK_RE.search(str(exc)))


def _gib(n: float) -> str:
    return f"{n / _GIB:.1f} GiB"


#: ``ulimit``s: a 64 MiB stack for every job (deep recursion, NCCL's threads); GPU jobs also get unlimited locked
#: memory (pinned host buffers for CUDA and NCCL), which an engine can give only if dockerd's own limit allows.
STACK_ULIMIT: dict[str, Any] = {"Name": "stack", "Soft": 64 << 20, "Hard": 64 << 20}
MEMLOCK_ULIMIT: dict[str, Any] = {"Name": "memlock", "Soft": -1, "Hard": -1}
ULIMITS: tuple[dict[str, Any], ...] = (STACK_ULIMIT,)
GPU_ULIMITS: tuple[dict[str, Any], ...] = (MEMLOCK_ULIMIT, STACK_ULIMIT)


def _shortfall(profile: InstanceType, engine: EngineInfo, load: EngineLoad) -> str | None:
    """What the engine lacks for ``profile`` now, or None when it fits."""
    parts: list[str] = []
    free_cpus = max(engine.cpus - load.cpus, 0.0)
    if engine.cpus > 0 and profile.cpus > engine.cpus:
        parts.append(f"needs {profile.cpus} CPUs, the engine has {engine.cpus}")
    elif engine.cpus > 0 and profile.cpus > free_cpus:
        parts.append(f"needs {profile.cpus} CPUs, {free_cpus:g} of {engine.cpus} free")
    memory = profile.memory_bytes
    free_memory = max(engine.memory_bytes - load.memory_bytes, 0)
    if engine.memory_bytes > 0 and memory > engine.memory_bytes:
        parts.append(f"needs {_gib(memory)} of memory, the engine has {_gib(engine.memory_bytes)}")
    elif engine.memory_bytes > 0 and memory > free_memory:
        parts.append(f"needs {_gib(memory)} of memory, {_gib(free_memory)} free")
    if not parts:
        return None
    busy = f" ({load.containers} container(s) running there)" if load.containers else ""
    return " and ".join(parts) + busy


def _limits(profile: InstanceType, engine: EngineInfo, note: str, *, cap: bool = False) -> ResourceChoice:
    cpus: float = profile.cpus
    memory = profile.memory_bytes
    if cap:
        cpus = min(cpus, engine.cpus) if engine.cpus > 0 else cpus
        memory = min(memory, engine.memory_bytes) if engine.memory_bytes > 0 else memory
    requests: list[dict[str, Any]] = []
    if profile.gpus:
        requests.append({"Driver": "nvidia", "Count": profile.gpus, "Capabilities": [["gpu"]]})
    shm = min(profile.shm_size, memory)  # /dev/shm is memory the container's limit counts
    ulimits = GPU_ULIMITS if profile.gpus else ULIMITS
    return ResourceChoice(profile.name, int(cpus * _NANO), int(memory), requests, note, shm, ulimits)


def _engine_default(engine: EngineInfo) -> ResourceChoice:
    """No instance type named: no CPU or memory limit; /dev/shm half the engine's memory, as on a VM."""
    note = "no instance type named: the engine's CPUs and memory"
    return ResourceChoice("", 0, 0, [], note, engine.memory_bytes // 2, ULIMITS)


def _gpu_problem(profile: InstanceType, engine: EngineInfo) -> str | None:
    """Why the engine cannot give ``profile``'s GPUs, or None."""
    if not profile.gpus:
        return None
    wanted = f"{profile.gpus} GPU(s)" + (f" ({profile.gpu_model})" if profile.gpu_model else "")
    if not engine.gpu_support:
        return f"needs {wanted}; the engine has no GPU support (no nvidia runtime)"
    has = {m.lower() for m in engine.gpu_models}
    if profile.gpu_model and has and profile.gpu_model.lower() not in has:
        return f"needs {wanted}; the engine's GPUs are {', '.join(engine.gpu_models)}"
    return None


def place_instance_types(
    profiles: Sequence[InstanceType], engine: EngineInfo, load: EngineLoad | None = None
) -> Placement:
    """The candidates for ``profiles`` on this engine now (see the module docstring); ``RuntimeFailure`` listing
    every profile when none can run at all. No profiles: the engine's own resources, as one candidate."""
    if not profiles:
        return Placement((_engine_default(engine),))
    load = load or EngineLoad()
    fits: list[ResourceChoice] = []
    short: list[tuple[InstanceType, str]] = []
    notes: list[str] = []
    for profile in profiles:
        name = profile.name
        gpu_problem = _gpu_problem(profile, engine)
        if gpu_problem is not None:
            notes.append(f"{name}: {gpu_problem}")
            continue
        lack = _shortfall(profile, engine, load)
        if lack is None:
            fits.append(_limits(profile, engine, f"{profile.describe()}: fits"))
        else:
            notes.append(f"{name}: {lack}")
            short.append((profile, lack))
    if fits:
        return Placement(tuple(fits), tuple(notes))
    if not short:
        raise RuntimeFailure("no instance type fits this Docker engine; tried " + "; ".join(notes))
    capped = []
    for profile, lack in short:
        choice = _limits(profile, engine, "", cap=True)
        note = f"no instance type fits as asked; capped to {choice.cpus:g} CPUs and {_gib(choice.mem_limit)} ({lack})"
        capped.append(replace(choice, note=note))
    first = capped[0].name
    return Placement(tuple(capped), tuple(n for n in notes if n.partition(":")[0] != first))


def engine_load(engine: DockerEngine) -> EngineLoad:
    """The limits the running containers on ``engine`` hold (a container that went away meanwhile counts 0)."""
    try:
        running = engine.api.containers(filters={"status": "running"})
    except docker.errors.DockerException as exc:
        raise RuntimeFailure(f"cannot list the containers on {engine.url}: {reason_of(exc)}") from None
    cpus, memory, gpus = 0.0, 0, 0
    for item in running:
        try:
            host = engine.api.inspect_container(item["Id"]).get("HostConfig") or {}
        except docker.errors.DockerException:
            continue
        nano = int(host.get("NanoCpus") or 0)
        quota, period = int(host.get("CpuQuota") or 0), int(host.get("CpuPeriod") or 0)
        cpus += nano / _NANO if nano else (quota / period if quota > 0 and period > 0 else 0.0)
        memory += int(host.get("Memory") or 0)
        gpus += sum(max(int(r.get("Count") or 0), 0) for r in host.get("DeviceRequests") or [])
    return EngineLoad(cpus, memory, gpus, len(running))


def choose_instance_type(
    profiles: Sequence[InstanceType], engine_info: EngineInfo, load: EngineLoad | None = None
) -> ResourceChoice:
    """The first candidate of ``place_instance_types``."""
    return place_instance_types(profiles, engine_info, load).choices[0]
