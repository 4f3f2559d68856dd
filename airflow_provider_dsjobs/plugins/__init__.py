"""The provider's Airflow plugin: the Jobs page and its JSON API, served by the api-server under ``/dsjobs``.

``plugin.py`` holds the plugin class (entry point ``airflow.plugins``); importing this package alone builds no app.
"""
