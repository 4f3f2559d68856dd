"""A log read that does not follow keeps the engine API's socket timeout (a stalled engine cannot hold the reading
thread for ever: the Jobs page reads logs inside the api-server); only a followed stream, which may be quiet for
hours, reads without one."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from tests.runtime.helpers import TrackingRuntime

pytestmark = pytest.mark.docker


def _socket_timeouts(runtime: TrackingRuntime, monkeypatch: pytest.MonkeyPatch) -> list[float | None]:
    """The timeout of each log response's socket, read as its first frame arrives."""
    seen: list[float | None] = []
    responses: list[Any] = []
    original_get = runtime._sdk._get

    def get(url: str, **kwargs: Any) -> Any:
        response = original_get(url, **kwargs)
        responses.append(response)
        return response

    monkeypatch.setattr(runtime._sdk, "_get", get)
    original_frames = runtime._log_frames

    def frames(container_id: str, **kwargs: Any) -> Any:
        for n, frame in enumerate(original_frames(container_id, **kwargs)):
            if n == 0:
                raw = runtime._sdk._get_raw_response_socket(responses[-1])
                sock: socket.socket = getattr(raw, "_sock", raw)  # a unix socket comes wrapped in a SocketIO
                seen.append(sock.gettimeout())
            yield frame

    monkeypatch.setattr(runtime, "_log_frames", frames)
    return seen


def test_only_a_followed_log_reads_without_a_socket_timeout(
    runtime: TrackingRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = runtime.run("echo one; sleep 2; echo two")
    seen = _socket_timeouts(runtime, monkeypatch)
    first = next(iter(runtime.stream_logs(cid, follow=False)))
    assert first == ("stdout", "one")
    assert seen and seen[0] == pytest.approx(runtime.api.timeout)
    seen.clear()
    assert [line for _, line in runtime.stream_logs(cid, follow=True)] == ["one", "two"]
    assert seen and seen[0] is None
