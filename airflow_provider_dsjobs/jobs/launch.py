"""Launch, part one: get the engine ready for a job's container and describe the container.

``prepare_container`` ensures the image (pulled with the config's registry credentials when missing), creates
the named volumes the plan uses (the pyenv cache and the project disk; labelled, created once), and picks the
first instance type the engine can run. ``JobService`` then creates the container from the returned spec,
delivers the inputs (``jobs/stage_in.py``) and starts it.
"""

from __future__ import annotations

from collections.abc import Callable

from airflow_provider_dsjobs.jobs.plan import LABEL_PROJECT, JobPlan
from airflow_provider_dsjobs.runtime.base import ContainerRuntime
from airflow_provider_dsjobs.runtime.containers import ContainerSpec
from airflow_provider_dsjobs.runtime.errors import RuntimeFailure
from airflow_provider_dsjobs.runtime.resources import ResourceChoice, choose_instance_type


def prepare_container(
    runtime: ContainerRuntime, plan: JobPlan, network: str | None, say: Callable[[str], None]
) -> tuple[ContainerSpec, ResourceChoice]:
    """Ensure the image and volumes, choose the instance type; the container's spec and that choice.
    Engine failures raise ``RuntimeFailure``."""
    runtime.ensure_image(plan.image, username=plan.registry_username, password=plan.registry_password)
    for name in plan.volumes:
        if name in plan.volume_labels:
            ensure_volume(runtime, name, {LABEL_PROJECT: plan.project, **plan.volume_labels[name]})
        elif plan.python is not None and name == plan.python.volume_name:
            ensure_volume(runtime, name, dict(plan.python.volume_labels))
        else:  # the project disk: created empty on first use, filled by whoever owns the project
            ensure_volume(runtime, name, {LABEL_PROJECT: plan.project, "dsjobs.project-disk": "1"})
    if plan.python is not None:
        for note in plan.python.notes:
            say(f"python environment: {note}")
    choice = choose_instance_type(plan.instance_types, runtime.engine_info())
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
    )
    return spec, choice


def ensure_volume(runtime: ContainerRuntime, name: str, labels: dict[str, str]) -> None:
    """Create a labelled named volume unless it exists (two jobs may race: the loser finds it there)."""
    if name in runtime.list_volumes(labels):
        return
    try:
        runtime.create_volume(name, labels)
    except RuntimeFailure:
        if name not in runtime.list_volumes(labels):
            raise
