"""Extra links for DataSphere Jobs tasks."""

from airflow_provider_dsjobs.links.job import DataSphereJobLink

__all__ = ["DataSphereJobLink"]
