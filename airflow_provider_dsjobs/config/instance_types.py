"""``cloud-instance-types``: the named resource profiles a job may ask for, in priority order.

Names follow DataSphere's configurations. On a Docker engine a profile becomes limits (CPUs, memory) and GPU
requests; the runtime takes the first profile in the config's order that the engine can satisfy.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InstanceType:
    name: str
    cpus: int
    memory_gb: int
    gpus: int = 0
    gpu_model: str | None = None


KNOWN_INSTANCE_TYPES: dict[str, InstanceType] = {
    t.name: t
    for t in (
        InstanceType("c1.4", cpus=4, memory_gb=32),
        InstanceType("c1.8", cpus=8, memory_gb=64),
        InstanceType("c1.32", cpus=32, memory_gb=256),
        InstanceType("c1.80", cpus=80, memory_gb=640),
        InstanceType("g1.1", cpus=8, memory_gb=96, gpus=1, gpu_model="V100"),
        InstanceType("g1.2", cpus=16, memory_gb=192, gpus=2, gpu_model="V100"),
        InstanceType("g1.4", cpus=32, memory_gb=384, gpus=4, gpu_model="V100"),
        InstanceType("g1.8", cpus=64, memory_gb=768, gpus=8, gpu_model="V100"),
        InstanceType("g2.1", cpus=28, memory_gb=119, gpus=1, gpu_model="A100"),
        InstanceType("g2.2", cpus=56, memory_gb=238, gpus=2, gpu_model="A100"),
        InstanceType("g2.4", cpus=112, memory_gb=476, gpus=4, gpu_model="A100"),
        InstanceType("g2.8", cpus=224, memory_gb=952, gpus=8, gpu_model="A100"),
        InstanceType("gt4.1", cpus=4, memory_gb=16, gpus=1, gpu_model="T4"),
    )
}
