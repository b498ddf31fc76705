"""Real servers for integration tests, on loopback only, stopped by the tests that start them."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from atomic_moto import make_sqs_atomic

REGION = "ap-northeast-2"
AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def moto_server() -> Iterator[str]:
    """A real SQS + S3 wire-protocol server (moto, queue operations atomic: ``atomic_moto``) on
    127.0.0.1; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    make_sqs_atomic()
    os.environ.update(AWS_ENV)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def aws_client(service: str, endpoint: str) -> Any:
    """A boto3 client for the test server."""
    return boto3.client(service, region_name=REGION, endpoint_url=endpoint)  # type: ignore[call-overload]


def wait_for(condition: Callable[[], Any], timeout: float, interval: float = 0.5) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


@contextmanager
def worker_process(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``dramatiq actors``, exactly as production runs it, in a subprocess; stopped (SIGTERM) at the end.

    The worker's threads and shutdown budget come from the environment (``WORKER_THREADS``,
    ``WORKER_SHUTDOWN_SECONDS``: 5 s here unless ``env`` says otherwise). It leads its own process
    group: ``os.killpg(process.pid, signal.SIGKILL)`` kills it with its worker processes.
    """
    command = [str(Path(sys.executable).parent / "dramatiq"), "actors"]
    full_env = {
        **os.environ,
        **AWS_ENV,
        "HF_HUB_OFFLINE": "1",
        "LOG_FORMAT": "json",
        "WORKER_SHUTDOWN_SECONDS": "5",
        **env,
    }
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, env=full_env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def queue_depth(sqs: Any, url: str) -> int:
    """Visible + in-flight + delayed messages of a queue."""
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return sum(
        int(attributes[name])
        for name in (
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        )
    )


class FlakyProxy:
    """An HTTP proxy in front of the S3/SQS server that answers 503 to the first ``failures`` GETs of
    object keys containing ``marker``: a transient S3 outage, as boto3 and the worker see it."""

    def __init__(self, upstream: str, marker: str, failures: int) -> None:
        import http.client
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import urlparse

        target = urlparse(upstream)
        state = {"left": failures, "failed": 0}
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                with lock:
                    fail = self.command == "GET" and marker in self.path and state["left"] > 0
                    if fail:
                        state["left"] -= 1
                        state["failed"] += 1
                if fail:
                    payload = b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
                    self.send_response(503)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                connection = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                headers["Host"] = target.netloc
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
                self.send_response(response.status)
                for key, value in response.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                connection.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.state = state
        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The proxy's endpoint URL."""
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FlakyProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def chroma_server(path: Path, port: int | None = None) -> Iterator[int]:
    """A real Chroma server (``chroma run``) on 127.0.0.1 (a free port unless given); yields its port."""
    port = port or free_port()
    command = [str(Path(sys.executable).parent / "chroma"), "run", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--path", str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for(lambda: _listening(port), 60, interval=0.2)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def moto_process(log: Path | None = None) -> Iterator[str]:
    """A real SQS + S3 wire-protocol server (``moto_server``, queue operations atomic: ``atomic_moto``)
    in its own process on 127.0.0.1; yields its endpoint URL. Unlike ``moto_server`` it does not share
    the caller's interpreter (and GIL)."""
    port = free_port()
    command = [
        sys.executable,
        str(Path(__file__).with_name("atomic_moto.py")),
        "-H",
        "127.0.0.1",
        "-p",
        str(port),
    ]
    output = log.open("wb") if log else subprocess.DEVNULL
    process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: _listening(port), 60, interval=0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)
        if log:
            output.close()  # type: ignore[union-attr]


@dataclass
class Fault:
    """A fault a ``FaultProxy`` injects into the first ``times`` requests whose method is ``method``
    (any when empty) and whose path or body contains ``marker``.

    ``kind`` is ``"503"`` (an answer ``503 SlowDown``/``Service Unavailable``) or ``"drop"`` (the
    connection is closed without an answer)."""

    marker: str
    times: int
    kind: str = "503"
    method: str = ""
    injected: int = 0


#: Sees every forwarded exchange: method, request headers, request body, response body, arrival time.
Observer = Callable[[str, dict[str, str], bytes, bytes, float], None]


class FaultProxy:
    """An HTTP proxy in front of a server (S3/SQS, Chroma) that injects ``Fault``s added at any time:
    transient outages as the worker's SDKs see them, for selected requests only. An ``observer``
    sees every request it forwards (e.g. to time the worker's SQS calls)."""

    def __init__(self, upstream: str, observer: Observer | None = None) -> None:
        import http.client
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import urlparse

        target = urlparse(upstream)
        self.faults: list[Fault] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                arrived = time.time()
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fault = proxy.match(self.command, self.path, body)
                if fault is not None and fault.kind == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if fault is not None:
                    payload = b"<Error><Code>SlowDown</Code><Message>Service unavailable.</Message></Error>"
                    self._answer(503, [("Content-Type", "application/xml")], payload)
                    return
                connection = http.client.HTTPConnection(str(target.hostname), target.port, timeout=90)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                headers["Host"] = target.netloc
                try:
                    connection.request(self.command, self.path, body=body or None, headers=headers)
                    response = connection.getresponse()
                    data = response.read()
                finally:
                    connection.close()
                kept = [
                    (k, v)
                    for k, v in response.getheaders()
                    if k.lower() not in ("transfer-encoding", "connection", "content-length")
                ]
                self._answer(response.status, kept, data)
                if observer is not None:
                    observer(self.command, dict(self.headers.items()), body, data, arrived)

            def _answer(self, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
                self.send_response(status)
                for key, value in headers:
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = _forward

            def log_message(self, format: str, *args: Any) -> None:
                return None

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                if not isinstance(sys.exc_info()[1], ConnectionError):  # a client gone (a killed worker)
                    super().handle_error(request, client_address)

        self.server = Server(("127.0.0.1", free_port()), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def add(self, fault: Fault) -> None:
        """Inject ``fault`` from now on."""
        with self.lock:
            self.faults.append(fault)

    def match(self, method: str, path: str, body: bytes) -> Fault | None:
        """The fault this request triggers (counted), if any."""
        with self.lock:
            for fault in self.faults:
                if fault.injected >= fault.times or (fault.method and fault.method != method):
                    continue
                if fault.marker in path or fault.marker.encode() in body:
                    fault.injected += 1
                    return fault
        return None

    @property
    def port(self) -> int:
        """The proxy's port on 127.0.0.1."""
        port: int = self.server.server_address[1]
        return port

    @property
    def url(self) -> str:
        """The proxy's endpoint URL."""
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
