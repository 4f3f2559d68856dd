"""``scripts/ensure-second-engine.sh``: a second engine with an identity and a bridge of its own, started once, and
the first engine's default bridge still working afterwards (``dockerd --bridge none`` would have deleted it)."""

from __future__ import annotations

import ipaddress
import subprocess
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "ensure-second-engine.sh"


def _bridge_subnet(client: Any) -> ipaddress.IPv4Network:
    return ipaddress.ip_network(client.networks.get("bridge").attrs["IPAM"]["Config"][0]["Subnet"])


def test_the_second_engine_is_another_engine_and_leaves_the_first_ones_bridge(
    docker_client: Any, second_engine: str, test_image: str
) -> None:
    import docker

    other = docker.DockerClient(base_url=second_engine)
    try:
        assert other.info()["ID"] != docker_client.info()["ID"]
        assert _bridge_subnet(other) != _bridge_subnet(docker_client)
        assert other.images.get(test_image)
        again = subprocess.run([str(SCRIPT)], capture_output=True, text=True, timeout=120, check=True)
        assert again.stdout.strip() == second_engine and "starting" not in again.stderr  # left alone
        code = "import socket; print(socket.gethostbyname(socket.gethostname()))"
        address = docker_client.containers.run(test_image, ["python", "-c", code], remove=True).decode().strip()
        assert ipaddress.ip_address(address) in _bridge_subnet(docker_client)  # the first engine's docker0 works
    finally:
        other.close()
