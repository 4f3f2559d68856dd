"""Airflow sensors for DataSphere Jobs."""

from airflow_provider_dsjobs.sensors.job import DataSphereJobSensor

__all__ = ["DataSphereJobSensor"]
