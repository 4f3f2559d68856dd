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

from airflow_provider_dsjobs.config.model import GRACEFUL_SIGNALS

__all__ = ["GRACEFUL_SIGNALS", "shell_command"]

#: The wrapper keeps the shell alive for each signal a graceful shutdown may send.
_WRAPPER = "trap 'exit' " + " ".join(name.removeprefix("SIG") for name in GRACEFUL_SIGNALS) + "\n"


def shell_command(script: str) -> list[str]:
    """The container command that runs ``script`` with ``/bin/sh`` and lets graceful-shutdown signals reach it."""
    return ["/bin/sh", "-c", _WRAPPER + script]
