"""Network faults for tests: a TCP proxy in front of a real server (the Docker engine, the moto S3 server)
that can drop every connection at once, or after so many bytes have come back, and refuse new ones until
it is restored. The server behind it stays real; only the path to it breaks."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Callable, Iterator
from urllib.parse import urlparse


def connector(url: str) -> Callable[[], socket.socket]:
    """A function that opens a new connection to ``url`` (``unix:///path``, ``tcp://host:port`` or ``http://``)."""
    parsed = urlparse(url)
    if parsed.scheme in ("unix", "http+unix"):
        path = parsed.path

        def unix() -> socket.socket:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(path)
            return sock

        return unix
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 80
    return lambda: socket.create_connection((host, port))


def docker_url() -> str:
    """The engine the tests use (as ``tests/conftest.py`` picks it)."""
    return os.environ.get("DSJOBS_DOCKER_URL") or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


class CuttableProxy:
    """``tcp://127.0.0.1:<port>`` forwarding to ``connect()``; ``cut()`` breaks the path, ``restore()`` mends it."""

    def __init__(self, connect: Callable[[], socket.socket]) -> None:
        self._connect = connect
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._cut = False
        self._budget: int | None = None
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cut(self) -> None:
        """Drop every connection now, and each new one as soon as it is accepted."""
        with self._lock:
            self._cut = True
            sockets, self._open = list(self._open), set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def cut_after(self, nbytes: int) -> None:
        """``cut()`` once ``nbytes`` more bytes have come back from the server."""
        with self._lock:
            self._budget = nbytes

    def restore(self) -> None:
        with self._lock:
            self._cut = False
            self._budget = None

    def close(self) -> None:
        self._closed = True
        self.cut()
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                refused = self._cut
            if refused:
                client.close()
                continue
            try:
                upstream = self._connect()
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open |= {client, upstream}
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, counted: bool) -> None:
        try:
            while data := source.recv(65536):
                if counted and self._spend(len(data)):
                    self.cut()
                    return
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def _spend(self, nbytes: int) -> bool:
        with self._lock:
            if self._budget is None:
                return False
            self._budget -= nbytes
            return self._budget <= 0


@contextlib.contextmanager
def cuttable_proxy(url: str) -> Iterator[CuttableProxy]:
    proxy = CuttableProxy(connector(url))
    try:
        yield proxy
    finally:
        proxy.close()
