"""The one exception type of the Python-environment subsystem."""

from __future__ import annotations


class PyEnvError(Exception):
    """The Python environment cannot be planned. The message is one line a user can act on
    (it names the file and line, or the config key, and says what would be valid)."""
