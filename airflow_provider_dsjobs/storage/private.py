"""Files and directories readable by their owner only: the local store, the hash cache and the CLI's secrets.

New files are created ``0600`` (``private_opener``, given to ``open``) and new directories ``0700``
(``make_private_dirs``). A mode given at creation is masked by the umask, which can only take bits away: no umask
makes them readable by the group or by others. Directories this code creates are also ``chmod``-ed to exactly
``0700``. What exists already is left as it is, so an existing store or home keeps working.
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700


def private_opener(path: str, flags: int) -> int:
    """``open(path, mode, opener=private_opener)``: a file it creates is ``0600``."""
    return os.open(path, flags, PRIVATE_FILE_MODE)


def make_private_dirs(directory: Path) -> list[Path]:
    """Create ``directory`` and its missing parents, each ``0700``; the ones that were missing, outermost first
    (for the caller to fsync their parents). One another process makes meanwhile is taken as it is."""
    missing = []
    while not directory.is_dir():
        missing.append(directory)
        directory = directory.parent
    made = []
    for new in reversed(missing):
        try:
            new.mkdir(mode=PRIVATE_DIR_MODE)
        except FileExistsError:
            if not new.is_dir():
                raise
        else:
            os.chmod(new, PRIVATE_DIR_MODE)  # exactly 0700, whatever the umask took away
        made.append(new)
    return made
