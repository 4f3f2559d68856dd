"""Wait until a deployment that up.sh started is ready: the api-server's health endpoint reports the metadata
database, scheduler, triggerer and dag-processor healthy, and every Celery worker has logged that it is ready.

Usage: python wait_ready.py STATE_ENV [TIMEOUT_SECONDS]      Exit 0 when ready, 1 (with what is missing) if not.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
import urllib.request
from pathlib import Path


def read_state(path: Path) -> dict[str, str]:
    """state.env's ``KEY='value'`` lines as a dict."""
    state: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            state[key] = shlex.split(value)[0] if value else ""
    return state


def not_ready(state: dict[str, str]) -> list[str]:
    """What is not ready yet (empty when everything is)."""
    missing: list[str] = []
    try:
        with urllib.request.urlopen(f"{state['API_URL']}/api/v2/monitor/health", timeout=5) as response:
            health = json.load(response)
    except OSError as exc:
        return [f"api-server ({exc})"]
    for component in ("metadatabase", "scheduler", "triggerer", "dag_processor"):
        if (health.get(component) or {}).get("status") != "healthy":
            missing.append(component)
    logs = Path(state["DEPLOY"]) / "logs"
    for worker in state["WORKERS"].split():
        log = logs / f"{worker}.log"
        if not log.exists() or " ready." not in log.read_text(errors="replace"):
            missing.append(worker)
    return missing


def main() -> int:
    state = read_state(Path(sys.argv[1]))
    timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 300.0
    deadline = time.monotonic() + timeout
    while missing := not_ready(state):
        if time.monotonic() > deadline:
            print(f"wait_ready: not ready after {timeout:.0f} s: {', '.join(missing)}", file=sys.stderr)
            return 1
        time.sleep(1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
