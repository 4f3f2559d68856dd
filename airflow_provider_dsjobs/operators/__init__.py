"""Airflow operators for DataSphere Jobs and ML Lab jobs."""

from airflow_provider_dsjobs.operators.job import DataSphereJobOperator
from airflow_provider_dsjobs.operators.lab import LabJobOperator

__all__ = ["DataSphereJobOperator", "LabJobOperator"]
