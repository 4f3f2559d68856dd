"""A project's resources (DataSphere's project secrets and Docker images): where they live and how a config's
references to them resolve. Airflow-free; the CLI and the hook choose the backends."""
