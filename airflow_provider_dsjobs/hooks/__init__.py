"""Airflow hooks for DataSphere Jobs."""

from airflow_provider_dsjobs.hooks.dsjobs import DataSphereJobsHook

__all__ = ["DataSphereJobsHook"]
