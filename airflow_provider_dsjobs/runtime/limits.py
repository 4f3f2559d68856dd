"""Limits every job and helper container gets unless the settings say otherwise."""

from __future__ import annotations

#: How many processes (threads count too) a job container may hold at once (``--pids-limit``): a fork bomb in a
#: job stops there instead of exhausting the engine's machine. ``0`` or less: no limit.
DEFAULT_PIDS_LIMIT = 4096
