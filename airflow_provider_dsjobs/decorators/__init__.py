"""TaskFlow decorators: ``@task.dsjobs`` (registered in the provider info, like ``@task.docker``)."""

from airflow_provider_dsjobs.decorators.dsjobs import dsjobs_task

__all__ = ["dsjobs_task"]
