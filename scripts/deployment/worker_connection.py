"""The ``dsjobs_default`` connection of one service of the deployment, as ``AIRFLOW_CONN_DSJOBS_DEFAULT`` JSON (an
environment connection comes before the database's on a worker): the shared S3 store, the service's own engine
(``worker-a`` and every other service: engine-a, the first engine; ``worker-b``: engine-b, the second one) and the
engine map naming the other one, both over TLS with the deployment's client certificate.

Usage: python worker_connection.py STATE_ENV SERVICE [--extra]     (--extra: only the connection's extras)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from wait_ready import read_state

#: Which engine each worker has; every other service (api-server, triggerer) is on engine-a's machine.
ENGINE_OF = {"worker-b": "engine-b"}


def engines(state: dict[str, str]) -> dict[str, dict[str, object]]:
    tls = state["TLS_DIR"]
    files = {"tls_ca_cert": f"{tls}/ca.pem", "tls_client_cert": f"{tls}/cert.pem", "tls_client_key": f"{tls}/key.pem"}
    return {
        "engine-a": {"url": state["DOCKER_URL"], **files, "tls_verify": True},
        "engine-b": {"url": state["DOCKER_B_URL"], **files, "tls_verify": True},
    }


def connection(state: dict[str, str], service: str) -> dict[str, object]:
    mine = ENGINE_OF.get(service, "engine-a")
    every = engines(state)
    own = every.pop(mine)
    extra = {
        "store_url": state["STORE_URL"],
        "endpoint_url": state["S3_ENDPOINT"],
        "region_name": "us-east-1",
        "docker_url": own["url"],
        "docker_tls_ca_cert": own["tls_ca_cert"],
        "docker_tls_client_cert": own["tls_client_cert"],
        "docker_tls_client_key": own["tls_client_key"],
        "docker_tls_verify": True,
        "engine_name": mine,
        "engines": every,
        "default_image": state["JOB_IMAGE"],
        "python_image_template": state["JOB_PYTHON_IMAGE"],
    }
    return {
        "conn_type": "dsjobs",
        "login": state["S3_ACCESS_KEY"],
        "password": state["S3_SECRET_KEY"],
        "extra": extra,
    }


if __name__ == "__main__":
    conn = connection(read_state(Path(sys.argv[1])), sys.argv[2])
    print(json.dumps(conn["extra"] if "--extra" in sys.argv[3:] else conn))
