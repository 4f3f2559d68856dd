"""airflow-provider-dsjobs: run DataSphere Jobs ``config.yaml`` files as Docker containers, from Airflow or the
``dsjobs`` command line.

The core (``documents``, ``config``, ``storage``, ``runtime``, ``resources``, ``pyenv``, ``jobs``, ``lab``, ``cli``)
imports nothing from Airflow; ``hooks``, ``operators``, ``sensors``, ``triggers`` and ``links`` are the thin Airflow
layer over it. The layers and the direction of imports: docs/howto/architecture.md.
"""

__version__ = "0.1.0"
