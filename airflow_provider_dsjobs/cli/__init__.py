"""The ``dsjobs`` command line."""
