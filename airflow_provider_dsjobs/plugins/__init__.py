"""The provider's Airflow plugin: the Jobs page and its JSON API, served by the api-server under ``/dsjobs``."""

from airflow_provider_dsjobs.plugins.plugin import DataSphereJobsPlugin

__all__ = ["DataSphereJobsPlugin"]
