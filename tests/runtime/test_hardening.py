"""Every container the runtime creates (jobs and helpers) runs with ``no-new-privileges`` and a process limit: a
setuid program gives a job no privileges, and a job that forks without end stops at its limit."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_dsjobs.runtime.helper import helper_spec, run_helper
from airflow_provider_dsjobs.runtime.limits import DEFAULT_PIDS_LIMIT
from tests.runtime.helpers import TrackingRuntime

pytestmark = [pytest.mark.docker, pytest.mark.timeout(120)]

#: As root, make a setuid-root copy of ``id``; then, as nobody, run it: it prints the effective uid it got.
SETUID_ESCALATION = (
    "cp /usr/bin/id /tmp/suid-id && chmod 4755 /tmp/suid-id && "
    'python -c "import os; os.setgid(65534); os.setuid(65534); os.execv(\\"/tmp/suid-id\\", [\\"id\\", \\"-u\\"])"'
)
#: Start 40 sleeping processes, or say after how many the kernel refused the next one.
FORK_MANY = """python - <<'EOF'
import subprocess
procs = []
try:
    for _ in range(40):
        procs.append(subprocess.Popen(["sleep", "60"]))
    print("started", len(procs))
except OSError as exc:
    print("refused after", len(procs), exc.errno)
for proc in procs:
    proc.kill()
EOF"""
PIDS_MAX = "cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max"


def _output(runtime: TrackingRuntime, container_id: str) -> list[str]:
    assert runtime.wait(container_id, timeout=60) == 0
    return [line for _, line in runtime.stream_logs(container_id, follow=False)]


def test_a_job_container_is_created_with_no_new_privileges_and_the_default_pids_limit(
    runtime: TrackingRuntime, docker_client: Any
) -> None:
    cid = runtime.run(f"grep NoNewPrivs /proc/self/status; {PIDS_MAX}")
    host_config = docker_client.api.inspect_container(cid)["HostConfig"]
    assert host_config["SecurityOpt"] == ["no-new-privileges"]
    assert host_config["PidsLimit"] == DEFAULT_PIDS_LIMIT == 4096
    assert _output(runtime, cid) == ["NoNewPrivs:\t1", "4096"]


def test_a_setuid_program_gives_no_privileges(runtime: TrackingRuntime) -> None:
    cid = runtime.run(SETUID_ESCALATION)
    assert _output(runtime, cid) == ["65534"]  # the setuid bit was ignored: still nobody, not root


def test_a_job_that_forks_without_end_stops_at_its_limit(runtime: TrackingRuntime) -> None:
    cid = runtime.run(FORK_MANY, pids_limit=16)
    (line,) = _output(runtime, cid)
    words = line.split()
    assert words[:2] == ["refused", "after"] and int(words[2]) < 16 and words[3] == "11", line  # EAGAIN


@pytest.mark.parametrize("unlimited", [0, -1])
def test_a_limit_of_zero_or_less_means_none(runtime: TrackingRuntime, docker_client: Any, unlimited: int) -> None:
    cid = runtime.run(FORK_MANY, pids_limit=unlimited)
    assert docker_client.api.inspect_container(cid)["HostConfig"]["PidsLimit"] in (None, 0, -1)
    assert _output(runtime, cid) == ["started 40"]


def test_helper_containers_are_hardened_alike(runtime: TrackingRuntime) -> None:
    spec = helper_spec(runtime.image, ["/bin/sh", "-c", f"grep NoNewPrivs /proc/self/status; {PIDS_MAX}"], {}, "test")
    code, lines = run_helper(runtime, spec, timeout=60)
    assert (code, lines) == (0, ["NoNewPrivs:\t1", "4096"])
