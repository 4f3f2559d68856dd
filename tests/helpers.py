"""Helpers shared by tests in every area: whether a required component may be missing, and free ports."""

from __future__ import annotations

import os
import socket

import pytest


def required(name: str) -> bool:
    """Whether the environment variable ``name`` (``DSJOBS_REQUIRE_*``) makes a missing component an error."""
    return os.environ.get(name, "") not in ("", "0", "false", "no")


def unavailable(what: str, require_var: str, why: str) -> None:
    """Fail the test when ``require_var`` is set (CI sets it: no silent skips), else skip it."""
    message = f"{what} unavailable: {why}"
    if required(require_var):
        pytest.fail(f"{message} ({require_var} is set, so this is an error, not a skip)", pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    """A TCP port on 127.0.0.1 free right now (other sessions share the machine)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
