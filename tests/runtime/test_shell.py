"""Graceful shutdown: the signal reaches the user's program through ``sh -c`` (tini as PID 1 forwards it to the
process group), the program gets ``timeout`` seconds to exit by itself, and is killed after that."""

from __future__ import annotations

import time

import pytest

from airflow_provider_dsjobs.runtime.shell import GRACEFUL_SIGNALS, portable_env, shell_command
from tests.runtime.conftest import TrackingRuntime

pytestmark = [pytest.mark.docker, pytest.mark.timeout(120)]

LOOP = "echo ready; while true; do sleep 0.1; done"

# A Python program that is *not* PID 1 and not the shell: `cd` before it keeps the shell in between.
PY_HANDLER = """cd /tmp && python -u -c '
import signal, sys, time
def handler(num, frame):
    print("python got", signal.Signals(num).name)
    time.sleep(0.5)
    print("cleanup done")
    sys.exit(0)
signal.signal(signal.SIGTERM, handler)
print("ready")
while True:
    time.sleep(0.1)
'
echo "the script went on after the signal"
"""


def wait_for_line(rt: TrackingRuntime, cid: str, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(line == text for _, line in rt.stream_logs(cid, follow=False)):
            return
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never appeared in the logs of {cid}")


def lines(rt: TrackingRuntime, cid: str) -> list[str]:
    return [line for _, line in rt.stream_logs(cid)]


def test_command_is_sh_c_with_the_script() -> None:
    command = shell_command("echo hi")
    assert command[:2] == ["/bin/sh", "-c"] and command[2].endswith("\necho hi")


def test_script_trapping_term_exits_by_itself(runtime: TrackingRuntime) -> None:
    cid = runtime.run('trap "echo got TERM; exit 0" TERM; ' + LOOP)
    wait_for_line(runtime, cid, "ready")
    started = time.monotonic()
    result = runtime.stop(cid, signal="SIGTERM", timeout=5)
    assert (result.outcome, result.exit_code) == ("exited", 0)
    assert time.monotonic() - started < 4
    assert "got TERM" in lines(runtime, cid)


def test_program_under_the_shell_gets_the_signal_and_finishes_cleanup(runtime: TrackingRuntime) -> None:
    cid = runtime.run(PY_HANDLER)
    wait_for_line(runtime, cid, "ready")
    result = runtime.stop(cid, signal="SIGTERM", timeout=10)
    assert (result.outcome, result.exit_code) == ("exited", 0)
    out = lines(runtime, cid)
    assert out[-2:] == ["python got SIGTERM", "cleanup done"]
    assert "the script went on after the signal" not in out


@pytest.mark.parametrize("signal", GRACEFUL_SIGNALS)
def test_every_graceful_signal_is_delivered(runtime: TrackingRuntime, signal: str) -> None:
    name = signal.removeprefix("SIG")
    cid = runtime.run(f'trap "echo got {name}; exit 7" {name}; ' + LOOP)
    wait_for_line(runtime, cid, "ready")
    result = runtime.stop(cid, signal=signal, timeout=5)
    assert (result.outcome, result.exit_code) == ("exited", 7)
    assert f"got {name}" in lines(runtime, cid)


def test_program_ignoring_the_signal_is_killed_after_the_timeout(runtime: TrackingRuntime) -> None:
    cid = runtime.run('trap "" TERM; ' + LOOP)
    wait_for_line(runtime, cid, "ready")
    started = time.monotonic()
    result = runtime.stop(cid, signal="SIGTERM", timeout=2)
    elapsed = time.monotonic() - started
    assert (result.outcome, result.exit_code) == ("killed", 137)
    assert 1.8 <= elapsed < 15


def test_no_signal_kills_at_once(runtime: TrackingRuntime) -> None:
    cid = runtime.run('trap "echo got TERM; exit 0" TERM; ' + LOOP)
    wait_for_line(runtime, cid, "ready")
    started = time.monotonic()
    result = runtime.stop(cid, signal=None, timeout=30)
    assert (result.outcome, result.exit_code) == ("killed", 137)
    assert time.monotonic() - started < 5
    assert "got TERM" not in lines(runtime, cid)


def test_stopping_a_finished_container_changes_nothing(runtime: TrackingRuntime) -> None:
    cid = runtime.run("exit 4")
    assert runtime.wait(cid) == 4
    assert runtime.stop(cid, signal="SIGTERM", timeout=1).outcome == "not_running"
    created = runtime.create(runtime.spec("true"))
    assert runtime.stop(created, signal=None).outcome == "not_running"


def test_docker_stop_uses_the_stop_signal(runtime: TrackingRuntime) -> None:
    """A human's ``docker stop`` sends the spec's stop_signal, which the init forwards the same way."""
    cid = runtime.run('trap "echo got USR1; exit 0" USR1; ' + LOOP, stop_signal="SIGUSR1")
    wait_for_line(runtime, cid, "ready")
    runtime.api.stop(cid, timeout=10)
    assert runtime.wait(cid) == 0
    assert "got USR1" in lines(runtime, cid)


# -- env var names a POSIX sh drops (project secrets such as MY-SECRET) ----------------------------------

SHOW_ENV = (
    "/usr/bin/python3 -c \"import os; print(repr(os.environ.get('MY-SECRET')), os.environ.get('PLAIN'),"
    " sorted(k for k in os.environ if k.startswith('DSJOBS_ENV')))\""
)


def test_a_hyphenated_env_name_reaches_the_program_with_its_exact_value(runtime: TrackingRuntime) -> None:
    value = "x y $HOME \"q\" 'z' ;"
    env = portable_env({"PLAIN": "p", "MY-SECRET": value})
    assert "MY-SECRET" not in env and value in env.values()  # an alias until the wrapper restores it
    cid = runtime.run("", command=shell_command(SHOW_ENV, restore_env=True), env=env)
    assert runtime.wait(cid) == 0
    assert lines(runtime, cid) == [f"{value!r} p []"]


def test_without_bash_the_job_runs_and_says_which_names_it_lost(runtime: TrackingRuntime) -> None:
    env = portable_env({"MY-SECRET": "s3cr3t-value", "PATH": "/nowhere"})  # no bash on PATH
    cid = runtime.run("", command=shell_command(SHOW_ENV, restore_env=True), env=env)
    assert runtime.wait(cid) == 0
    out = lines(runtime, cid)
    assert out[-1] == "None None []"
    assert any("no bash: env vars MY-SECRET cannot reach the job" in line for line in out)
    assert not any("s3cr3t-value" in line for line in out)


def test_plain_names_need_no_aliases() -> None:
    assert portable_env({"A": "1", "_B2": "2"}) == {"A": "1", "_B2": "2"}
