"""Airflow's ``[core] hostname_callable`` for the deployment: each service reports the name in
``DSJOBS_DEPLOY_HOSTNAME`` (``worker-a``, ``worker-b``, ...), so task instances say which worker ran them although
all services share one machine."""

from __future__ import annotations

import os
import socket


def get() -> str:
    return os.environ.get("DSJOBS_DEPLOY_HOSTNAME") or socket.getfqdn()
