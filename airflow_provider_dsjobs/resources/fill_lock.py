"""An engine-wide lock for filling a cache volume: a helper container with a fixed name.

A Docker engine refuses a second container of a name in use, so creating ``dsjobs-fill-<volume>`` is a mutex
every process that reaches the engine honours, with no shared filesystem and no other service. The container
itself is the filler's tool: it mounts the volume read-write and receives files through ``put_archive`` (and may
run one command). A lock is taken as left by a dead filler, and removed, when ``holder_gone`` says so of the job
named by its ``dsjobs.fill-by`` label (its launcher stopped beating its lease, ``jobs/lease.py``), or when it is
older than the fill timeout.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from airflow_provider_dsjobs.runtime.base import ContainerRuntime
from airflow_provider_dsjobs.runtime.containers import ContainerSpec
from airflow_provider_dsjobs.runtime.errors import RuntimeFailure
from airflow_provider_dsjobs.runtime.helper import HELPER_LABEL

LOCK_PREFIX = "dsjobs-fill-"
#: Label of a fill helper naming the volume it fills (how a waiting job finds the lock).
LABEL_FILL_OF = "dsjobs.fill-of"
#: Label of a fill helper naming the job whose launch fills (how a waiting job tells a dead filler).
LABEL_FILL_BY = "dsjobs.fill-by"


def lock_name(volume: str) -> str:
    return LOCK_PREFIX + volume


def take_lock(
    runtime: ContainerRuntime,
    spec: ContainerSpec,
    volume: str,
    stale_after: float,
    say: Callable[[str], None],
    holder_gone: Callable[[str], bool] | None = None,
) -> str | None:
    """Create the lock container ``spec`` (its name is ``lock_name(volume)``, its labels include ``LABEL_FILL_OF``
    and ``dsjobs.helper``); its id, or None while another process holds it (a stale one is removed first, the
    caller looks again). Other engine failures raise ``RuntimeFailure``."""
    try:
        return runtime.create(spec)
    except RuntimeFailure as exc:
        if "already exists" not in str(exc):
            raise
    for info in runtime.find({HELPER_LABEL: spec.labels[HELPER_LABEL], LABEL_FILL_OF: volume}):
        holder = info.labels.get(LABEL_FILL_BY, "")
        if time.time() - info.created > stale_after or (holder and holder_gone is not None and holder_gone(holder)):
            say(f"removing a fill of volume {volume} abandoned by its job ({info.name})")
            runtime.remove(info.id, force=True)
    return None
