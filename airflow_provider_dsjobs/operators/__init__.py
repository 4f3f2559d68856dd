"""Airflow operators for DataSphere Jobs."""

from airflow_provider_dsjobs.operators.job import DataSphereJobOperator

__all__ = ["DataSphereJobOperator"]
