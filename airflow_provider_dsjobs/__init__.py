"""airflow-provider-dsjobs: run DataSphere Jobs ``config.yaml`` files as Docker containers, from Airflow or the
``dsjobs`` command line.

The core (``config``, ``storage``, ``runtime``, ``jobs``, ``pyenv``, ``cli``) imports nothing from Airflow;
``hooks``, ``operators``, ``sensors``, ``triggers`` and ``links`` are the thin Airflow layer over it.
"""

__version__ = "0.1.0"
