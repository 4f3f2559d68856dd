"""The job's command line, and how a graceful-shutdown signal reaches the user's program.

The orchestrator runs a job as ``shell_command(script)``, i.e. ``["/bin/sh", "-c", <wrapper + script>]``, in a
container created with ``ContainerSpec(init=True)`` (the default). Why both:

* Without an init, ``sh`` is PID 1. The kernel drops every signal for PID 1 that has no handler, so a plain
  ``sh -c "python train.py"`` ignores SIGTERM and is SIGKILLed at the end of the grace period; and even a trapping
  shell defers its trap until the foreground command ends, so the program itself never hears the signal.
* ``init=True`` makes Docker start its ``docker-init`` (tini) as PID 1. With ``TINI_KILL_PROCESS_GROUP=1`` (set by
  :class:`~airflow_provider_dsjobs.runtime.containers.Runtime` whenever ``init`` is on) tini forwards every signal
  to the whole process group of its child: the shell *and* the program it runs (and pipelines, and their children).
* The wrapper's ``trap 'exit' HUP INT TERM USR1 USR2`` keeps the shell alive while the program handles the signal:
  bash/dash run a trap only after the foreground command returns, so the shell waits for the program's clean exit
  and then exits with the program's status instead of dying at once (which would end the container, and with it the
  program, mid-cleanup). A user script that sets its own trap replaces ours, as expected.

Checked on Docker 20.10 (Debian ``docker.io`` ships ``/usr/bin/docker-init``, tini 0.19). An engine without
``docker-init`` fails at start with "exec: docker-init: executable file not found"; there, create the container with
``init=False`` and the user's program must handle PID 1 itself (``exec`` it from the script so it becomes PID 1 and
install a signal handler), otherwise the stop ends with SIGKILL after the timeout.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping

from airflow_provider_dsjobs.config.model import GRACEFUL_SIGNALS

__all__ = ["ENV_NAMES_VAR", "GRACEFUL_SIGNALS", "portable_env", "shell_command"]

#: The wrapper keeps the shell alive for each signal a graceful shutdown may send.
_WRAPPER = "trap 'exit' " + " ".join(name.removeprefix("SIG") for name in GRACEFUL_SIGNALS) + "\n"


def shell_command(script: str, *, restore_env: bool = False) -> list[str]:
    """The container command that runs ``script`` with ``/bin/sh`` and lets graceful-shutdown signals reach it.
    ``restore_env``: the env came from :func:`portable_env` with aliases to put back first (then bash runs it)."""
    if not restore_env:
        return ["/bin/sh", "-c", _WRAPPER + script]
    quoted = shlex.quote(_WRAPPER + script)
    return ["/bin/sh", "-c", _RESTORE.replace("@SCRIPT@", quoted) + _WRAPPER + script]


# -- env var names a POSIX sh drops ------------------------------------------------------------------------
# dash (Debian's /bin/sh) removes from its environment every variable whose name is not a shell identifier, so a
# project secret named ``MY-SECRET`` (legal in DataSphere) would never reach the program ``sh -c`` starts. Such
# variables travel under aliases (``DSJOBS_ENV_<n>``, names in ``DSJOBS_ENV_NAMES``); the wrapper puts them back
# under their own names with ``env`` and runs the script with bash, which keeps what it inherits. An image
# without bash gets a warning line and the script runs without them.

_SHELL_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ENV_NAMES_VAR = "DSJOBS_ENV_NAMES"
_ALIAS_PREFIX = "DSJOBS_ENV_"
_RESTORE = r"""i=0; set --
for n in $DSJOBS_ENV_NAMES; do eval "set -- \"\$@\" \"\$n=\${DSJOBS_ENV_$i}\""; unset "DSJOBS_ENV_$i"; i=$((i+1)); done
names=$DSJOBS_ENV_NAMES; unset DSJOBS_ENV_NAMES
if command -v bash >/dev/null 2>&1; then exec env "$@" bash -c @SCRIPT@; fi
echo "dsjobs: the image has no bash: env vars $names cannot reach the job (a POSIX sh drops names with '-')" >&2
"""


def needs_alias(name: str) -> bool:
    return not _SHELL_NAME_RE.fullmatch(name)


def portable_env(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` with every name a POSIX sh would drop moved to an alias that :func:`shell_command` restores."""
    out: dict[str, str] = {}
    aliased: list[str] = []
    for name, value in env.items():
        if needs_alias(name):
            out[f"{_ALIAS_PREFIX}{len(aliased)}"] = value
            aliased.append(name)
        else:
            out[name] = value
    if aliased:
        out[ENV_NAMES_VAR] = " ".join(aliased)
    return out
