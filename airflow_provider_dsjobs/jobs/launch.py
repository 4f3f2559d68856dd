"""Launch, part one: get the engine ready for a job's container and describe the container.

``prepare_container`` ensures the image (pulled with the config's registry credentials when missing), creates
the named volumes the plan uses (the pyenv cache and the project disk; labelled, created once), and weighs the
instance types against the engine's capacity and what runs there (``runtime/resources.py``). ``JobService`` then
creates the container from the returned spec with the first candidate, delivers the inputs
(``jobs/stage_in.py``) and starts it, moving to the next candidate when the engine lacks resources for one
(``start_with_fallback``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from airflow_provider_dsjobs.jobs.plan import JobPlan
from airflow_provider_dsjobs.resources.project_disk import project_disk_labels
from airflow_provider_dsjobs.runtime.base import ContainerRuntime
from airflow_provider_dsjobs.runtime.containers import ContainerSpec
from airflow_provider_dsjobs.runtime.errors import RuntimeFailure
from airflow_provider_dsjobs.runtime.labels import LABEL_PROJECT
from airflow_provider_dsjobs.runtime.limits import DEFAULT_PIDS_LIMIT
from airflow_provider_dsjobs.runtime.resources import (
    Placement,
    ResourceChoice,
    lacks_resources,
    place_instance_types,
    refuses_ulimits,
)


def prepare_container(
    runtime: ContainerRuntime,
    plan: JobPlan,
    network: str | None,
    say: Callable[[str], None],
    pull_policy: str = "if-missing",
    pids_limit: int = DEFAULT_PIDS_LIMIT,
) -> tuple[ContainerSpec, Placement]:
    """Ensure the image (as the pull policy says) and volumes, weigh the instance types; the container's spec
    (with the first candidate's limits) and the candidates. Engine failures, and no instance type that can run,
    raise ``RuntimeFailure``."""
    runtime.ensure_image(
        plan.image, username=plan.registry_username, password=plan.registry_password, policy=pull_policy
    )
    for name in plan.volumes:
        if name in plan.volume_labels:
            ensure_volume(runtime, name, {LABEL_PROJECT: plan.project, **plan.volume_labels[name]})
        elif plan.python is not None and name == plan.python.volume_name:
            ensure_volume(runtime, name, dict(plan.python.volume_labels))
        else:  # the project disk: created empty on first use, filled by whoever owns the project
            ensure_volume(runtime, name, project_disk_labels(plan.project))
    if plan.python is not None:
        for note in plan.python.notes:
            say(f"python environment: {note}")
    placement = place_instance_types(plan.instance_types, runtime.engine_info(), runtime.engine_load())
    choice = placement.choices[0]
    spec = ContainerSpec(
        image=plan.image,
        command=list(plan.command) or None,
        entrypoint=list(plan.entrypoint) if plan.entrypoint is not None else None,
        env=dict(plan.env),
        labels=dict(plan.labels),
        working_dir=plan.workdir,
        name=f"dsjobs-{plan.job_id}",
        resources=choice,
        network=network,
        volumes={k: dict(v) for k, v in plan.volumes.items()},
        stop_signal=plan.graceful_signal,
        pids_limit=pids_limit,
    )
    return spec, placement


def say_choice(plan: JobPlan, placement: Placement, choice: ResourceChoice, say: Callable[[str], None]) -> None:
    """One line: the instance type used and why, with why each one ahead of it in the config was skipped."""
    if not choice.name:
        return  # no instance type named: the engine's own resources, nothing to explain
    skipped = placement.skipped_before(choice, [t.name for t in plan.instance_types])
    say(f"instance type {choice.name} ({choice.note})" + (f"; skipped {'; '.join(skipped)}" if skipped else ""))


def start_with_fallback(
    spec: ContainerSpec,
    placement: Placement,
    start: Callable[[ContainerSpec], None],
    discard: Callable[[], None],
    say: Callable[[str], None],
) -> ResourceChoice:
    """``start(spec)`` (create, deliver, start) with each candidate in turn while the engine refuses one for lack
    of resources (``discard`` removes the refused container first); the choice used. Other failures, and the last
    candidate's, raise (its container is left to the caller's failure handling)."""
    choices = placement.choices
    for i, choice in enumerate(choices):
        try:
            return _start_choice(spec, choice, start, discard, say)
        except RuntimeFailure as exc:
            if i + 1 == len(choices) or not lacks_resources(exc):
                raise
            discard()
            after = choices[i + 1]
            say(f"instance type {choice.name} could not start ({exc}); trying {after.name} ({after.note})")
    raise AssertionError("unreachable")  # pragma: no cover


def _start_choice(
    spec: ContainerSpec,
    choice: ResourceChoice,
    start: Callable[[ContainerSpec], None],
    discard: Callable[[], None],
    say: Callable[[str], None],
) -> ResourceChoice:
    """``start`` with ``choice``; an engine that may not raise the GPU/NCCL ulimits (its own limit is lower, e.g.
    dockerd without ``LimitMEMLOCK=infinity``) gets the job once more without them, with a warning line."""
    try:
        start(replace(spec, resources=choice))
        return choice
    except RuntimeFailure as exc:
        if not choice.ulimits or not refuses_ulimits(exc):
            raise
    discard()
    wanted = ", ".join(f"{u['Name']}={'unlimited' if u['Soft'] < 0 else u['Soft']}" for u in choice.ulimits)
    say(
        f"warning: the Docker engine may not raise the ulimits {wanted} (its own limits are lower: give dockerd "
        "LimitMEMLOCK=infinity); running with the engine's defaults, which GPU/NCCL jobs may find too small"
    )
    plain = replace(choice, ulimits=())
    start(replace(spec, resources=plain))
    return plain


def ensure_volume(runtime: ContainerRuntime, name: str, labels: dict[str, str]) -> None:
    """Create a labelled named volume unless it exists (two jobs may race: the loser finds it there)."""
    if name in runtime.list_volumes(labels):
        return
    try:
        runtime.create_volume(name, labels)
    except RuntimeFailure:
        if name not in runtime.list_volumes(labels):
            raise
