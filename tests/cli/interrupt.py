"""Run ``dsjobs`` in a subprocess, wait for the job to print ``ready``, press Ctrl+C (SIGINT) once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def interrupt_when_ready(argv: list[str], timeout: float = 60.0) -> tuple[int, str]:
    """``dsjobs ARGV...`` until its stdout shows ``ready``, then one SIGINT; ``(exit code, stderr)``."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_dsjobs.cli.main", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if line.strip() == "ready" or not line:
                break
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, err
