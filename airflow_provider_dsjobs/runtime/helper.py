"""Short-lived helper containers: run one command on the engine and read what it printed.

What must be measured or changed *on the engine* (the project disk's files, the free space of the engine's disk)
is done by a container there rather than on the submitting machine, so it works the same with a remote engine.
Helpers carry the ``dsjobs.helper`` label (what they are for) besides the caller's, and are always removed. Like
every container ``Runtime.create`` makes, they run with ``no-new-privileges`` and the default pids limit.
"""

from __future__ import annotations

from airflow_provider_dsjobs.runtime.base import ContainerRuntime
from airflow_provider_dsjobs.runtime.containers import ContainerSpec

#: Label naming what a helper container is for (``project-disk``, ``working-storage``).
HELPER_LABEL = "dsjobs.helper"
#: How long a helper may run before it is given up (and removed).
HELPER_TIMEOUT = 300.0


def helper_spec(image: str, command: list[str], labels: dict[str, str], purpose: str) -> ContainerSpec:
    """A helper's spec: ``command`` runs as the entrypoint (the image's own ENTRYPOINT would wrap it), as root,
    without an init process, in ``/``."""
    return ContainerSpec(
        image=image,
        command=None,
        entrypoint=command,
        env={},
        labels={**labels, HELPER_LABEL: purpose},
        working_dir="/",
        user="0",
        init=False,
    )


def run_helper(
    runtime: ContainerRuntime, spec: ContainerSpec, timeout: float = HELPER_TIMEOUT
) -> tuple[int, list[str]]:
    """Create, start and wait for the helper; its exit code and output lines (stdout and stderr, in order). The
    container is removed whatever happens; a failure to create, start or wait is the runtime's ``RuntimeFailure``."""
    cid = runtime.create(spec)
    try:
        runtime.start(cid)
        code = runtime.wait(cid, timeout=timeout)
        lines = [line for _, line in runtime.stream_logs(cid, follow=False)]
    finally:
        runtime.remove(cid, force=True)
    return code, lines
