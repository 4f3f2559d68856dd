"""Server processes the tests start themselves: moto S3 servers (one that takes any key, one that checks who
signs) and a Spark Connect server from the ``pyspark`` package. The fixtures in ``tests/conftest.py`` wrap them."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from tests.helpers import free_port, unavailable


@contextlib.contextmanager
def moto_process(log: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """A moto server process on 127.0.0.1 (``env`` added to its environment); yields its endpoint URL."""
    exe = shutil.which("moto_server") or str(Path(sys.executable).with_name("moto_server"))
    if not Path(exe).exists():
        unavailable("moto S3 server", "DSJOBS_REQUIRE_S3", "moto_server is not installed (pip install 'moto[server]')")
    port = free_port()
    with open(log, "wb") as fh:
        proc = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(port)], stdout=fh, stderr=subprocess.STDOUT,
                                env={**os.environ, **(env or {})})  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
    if proc.poll() is not None:
        unavailable("moto S3 server", "DSJOBS_REQUIRE_S3", f"it exited: {log.read_text(errors='replace')[-500:]}")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(proc, timeout=10)


@dataclasses.dataclass(frozen=True)
class SignedS3:
    """A second S3 service that checks who signs: only ``access_key_id``/``secret_access_key`` may use it."""

    endpoint: str
    access_key_id: str
    secret_access_key: str
    bucket: str


@contextlib.contextmanager
def signed_s3_service(log: Path) -> Iterator[SignedS3]:
    """A moto server with IAM authentication on (after the three set-up calls that create its one user, that
    user's policy and key), holding one bucket; a request signed with any other key is refused."""
    import boto3

    with moto_process(log, {"INITIAL_NO_AUTH_ACTION_COUNT": "3"}) as ep:
        iam = boto3.client("iam", endpoint_url=ep, region_name="us-east-1", aws_access_key_id="setup",
                           aws_secret_access_key="setup")  # fmt: skip
        iam.create_user(UserName="lake")
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
        iam.put_user_policy(UserName="lake", PolicyName="s3", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName="lake")["AccessKey"]
        lake = SignedS3(ep, key["AccessKeyId"], key["SecretAccessKey"], f"lake-{uuid.uuid4().hex[:8]}")
        boto3.client("s3", endpoint_url=ep, region_name="us-east-1", aws_access_key_id=lake.access_key_id,
                     aws_secret_access_key=lake.secret_access_key).create_bucket(Bucket=lake.bucket)  # fmt: skip
        yield lake


@dataclasses.dataclass(frozen=True)
class SparkConnect:
    """A running Spark Connect server: ``remote`` is where a job's container reaches it, ``image`` a job image
    with a pyspark Connect client, ``version`` the server's Spark version."""

    remote: str
    image: str
    version: str


@contextlib.contextmanager
def spark_connect_server(gateway: str, workdir: Path) -> Iterator[SparkConnect]:
    """A real Spark Connect server from the ``pyspark`` package (``scripts/ensure-spark.sh`` installs it and the
    client image; ``scripts/test.sh`` exports ``DSJOBS_TEST_SPARK_HOME``/``DSJOBS_TEST_SPARK_IMAGE``) listening on
    ``gateway`` (the Docker bridge's, the only host address a job's container reaches) at a free port."""
    home, image = os.environ.get("DSJOBS_TEST_SPARK_HOME", ""), os.environ.get("DSJOBS_TEST_SPARK_IMAGE", "")
    submit = Path(home, "bin", "spark-submit")
    if not submit.is_file() or not image:
        unavailable("Spark Connect server", "DSJOBS_REQUIRE_SPARK", "run scripts/ensure-spark.sh and set "
                    "DSJOBS_TEST_SPARK_HOME and DSJOBS_TEST_SPARK_IMAGE to what it prints")  # fmt: skip
    with socket.socket() as sock:
        sock.bind((gateway, 0))
        port = int(sock.getsockname()[1])
    log = workdir / "server.log"
    command = [str(submit), "--class", "org.apache.spark.sql.connect.service.SparkConnectServer", "--master",
               "local[2]", "--driver-memory", "1g", "--conf", f"spark.connect.grpc.binding.address={gateway}",
               "--conf", f"spark.connect.grpc.binding.port={port}", "--conf", "spark.ui.enabled=false",
               "spark-internal"]  # fmt: skip
    with open(log, "wb") as fh:
        proc = subprocess.Popen(command, cwd=workdir, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True,
                                env={**os.environ, "SPARK_HOME": home})  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while b"Spark Connect server started" not in log.read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Spark Connect server did not start: {log.read_text(errors='replace')[-1500:]}")
            time.sleep(0.5)
        jar = next(Path(home, "jars").glob("spark-connect_*.jar"))
        yield SparkConnect(f"sc://{gateway}:{port}", image, jar.name.split("-")[-1].removesuffix(".jar"))
    finally:
        stop_process(proc, timeout=30, group=True)


def stop_process(proc: subprocess.Popen[bytes], timeout: float, group: bool = False) -> None:
    """SIGTERM (to its whole process group with ``group``: it was started with ``start_new_session``), then
    SIGKILL after ``timeout`` seconds."""

    def send(sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            if group:
                os.killpg(proc.pid, sig)
            else:
                proc.send_signal(sig)

    send(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        send(signal.SIGKILL)
        proc.wait(timeout=10)


@contextlib.contextmanager
def _serving(handler: type[BaseHTTPRequestHandler], port: int) -> Iterator[None]:
    """``handler`` served on 127.0.0.1:``port`` from a thread, for as long as the block runs."""
    import threading
    from http.server import ThreadingHTTPServer

    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


class _Forwarding(BaseHTTPRequestHandler):
    """A proxy's request handler: ``upstream`` (``host:port``) answers; a subclass's ``handle_request`` decides
    what to pass on (``forward``) and what to answer (``reply``)."""

    protocol_version = "HTTP/1.1"
    upstream = ""

    def log_message(self, format: str, *args: object) -> None:
        pass

    def handle_request(self, body: bytes) -> None:
        self.reply(*self.forward(body))

    def forward(self, body: bytes) -> tuple[int, bytes, list[tuple[str, str]]]:
        """The request as received, sent to ``upstream``: its status, body and headers."""
        import http.client

        host, _, port = self.upstream.partition(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
            headers["Host"] = self.upstream
            conn.request(self.command, self.path, body=body, headers=headers)
            answer = conn.getresponse()
            return answer.status, answer.read(), answer.getheaders()
        finally:
            conn.close()

    def reply(self, status: int, data: bytes, headers: list[tuple[str, str]] | None = None) -> None:
        self.send_response(status)
        for key, value in headers or [("Content-Type", "application/xml")]:
            if key.lower() not in ("connection", "transfer-encoding", "content-length", "server", "date"):
                self.send_header(key, value)
        length = dict((k.lower(), v) for k, v in headers or []).get("content-length", "0")
        self.send_header("Content-Length", length if self.command == "HEAD" else str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _any(self) -> None:
        self.handle_request(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _any


@dataclasses.dataclass
class CountingS3:
    """A counting proxy in front of a moto server: ``gets`` records each object GET (``(key, bytes sent)``),
    ``requests`` every request line (method and path with query)."""

    endpoint: str
    gets: list[tuple[str, int]] = dataclasses.field(default_factory=list)
    requests: list[str] = dataclasses.field(default_factory=list)

    def bytes_by_key(self, bucket: str) -> dict[str, int]:
        found: dict[str, int] = {}
        for path, size in self.gets:
            head, _, key = path.lstrip("/").partition("/")
            if head == bucket and key:
                found[key] = found.get(key, 0) + size
        return found


@contextlib.contextmanager
def counting_s3_proxy(upstream: str) -> Iterator[CountingS3]:
    """Serve ``CountingS3`` on a free 127.0.0.1 port, forwarding everything to the moto server at ``upstream``."""
    from urllib.parse import urlsplit

    port = free_port()
    state = CountingS3(f"http://127.0.0.1:{port}")

    class Handler(_Forwarding):
        def handle_request(self, body: bytes) -> None:
            status, data, headers = self.forward(body)
            state.requests.append(f"{self.command} {self.path}")
            if self.command == "GET" and "?" not in self.path:
                state.gets.append((self.path, len(data)))
            self.reply(status, data, headers)

    Handler.upstream = urlsplit(upstream).netloc
    with _serving(Handler, port):
        yield state


@dataclasses.dataclass
class ExpiringCredentials:
    """A fault in front of a moto server: STS hands out temporary credentials (an assumed role's, key ``ASIA…``)
    that expire ``lifetime`` seconds after they are issued (AWS's shortest is 15 min: too long for a test), and an
    S3 request signed with them after that is refused with S3's own ``ExpiredToken``, as AWS does and moto does
    not. Everything else is passed through. ``issued`` counts the temporary keys STS handed out, ``refused`` the
    requests turned away."""

    endpoint: str
    issued: list[str] = dataclasses.field(default_factory=list)
    refused: list[str] = dataclasses.field(default_factory=list)
    expiry: dict[str, float] = dataclasses.field(default_factory=dict)


_EXPIRED = b"<Error><Code>ExpiredToken</Code><Message>The provided token has expired.</Message></Error>"


@contextlib.contextmanager
def expiring_credentials_proxy(upstream: str, lifetime: float) -> Iterator[ExpiringCredentials]:
    """Serve ``ExpiringCredentials`` on a free 127.0.0.1 port, forwarding to the moto server at ``upstream``."""
    import re
    from datetime import datetime, timezone
    from urllib.parse import urlsplit

    port = free_port()
    state = ExpiringCredentials(f"http://127.0.0.1:{port}")
    issued_re = re.compile(rb"<AccessKeyId>(ASIA[A-Z0-9]+)</AccessKeyId>")
    expiration_re = re.compile(rb"<Expiration>[^<]+</Expiration>")
    signer_re = re.compile(r"Credential=(ASIA[A-Z0-9]+)/")

    class Handler(_Forwarding):
        def handle_request(self, body: bytes) -> None:
            signer = signer_re.search(self.headers.get("Authorization", ""))
            if signer and time.time() >= state.expiry.get(signer.group(1), float("inf")):
                state.refused.append(signer.group(1))
                self.reply(400, _EXPIRED)
                return
            status, data, headers = self.forward(body)
            for key in issued_re.findall(data):
                stamp = time.time() + lifetime
                expires = datetime.fromtimestamp(stamp, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
                data = expiration_re.sub(f"<Expiration>{expires}</Expiration>".encode(), data)
                state.issued.append(key.decode())
                state.expiry[key.decode()] = stamp
            self.reply(status, data, headers)

    Handler.upstream = urlsplit(upstream).netloc
    with _serving(Handler, port):
        yield state
