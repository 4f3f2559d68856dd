"""Deferrable triggers for DataSphere Jobs."""

from airflow_provider_dsjobs.triggers.job import DataSphereJobTrigger

__all__ = ["DataSphereJobTrigger"]
