"""ML Lab jobs (seed 004) on this project's core: an image is a job, ``EXECUTE_CODE`` runs code in it.

``from airflow_provider_dsjobs.lab import LabJobConfig, LabJobHandler`` — the names of the seed's Python client.
Airflow-free; the CLI's ``dsjobs run`` and Airflow's ``LabJobOperator`` use the same ``submit_lab_job``.
"""

from airflow_provider_dsjobs.lab.config import LabError, LabJobConfig
from airflow_provider_dsjobs.lab.handler import LabJobHandler, submit_lab_job

__all__ = ["LabError", "LabJobConfig", "LabJobHandler", "submit_lab_job"]
