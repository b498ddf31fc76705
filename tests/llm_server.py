"""A local stand-in for an OpenAI-compatible chat-completions endpoint, for tests.

``FakeLLM`` listens on 127.0.0.1 (an ephemeral port) and answers ``POST /v1/chat/completions`` in
the OpenAI response shape. Its ``mode`` decides the answer and may change between requests:

- ``ok``: the ``reply`` object as JSON content (or ``content`` verbatim, when set);
- ``fenced``: the ``reply`` object inside a ```json fenced block, with prose around it;
- ``malformed``: content that is not JSON;
- ``refusal``: ``refusal`` set, ``content`` null;
- ``error``: HTTP 500;
- ``rate_limited``: HTTP 429 with ``Retry-After``;
- ``hang``: no answer until ``hang_seconds`` pass or the server stops;
- ``trickle``: the ``ok`` answer one byte every ``trickle_seconds`` (each read is quick, the whole slow).

Every request is recorded (path, headers, JSON body). Use it as a context manager; stopping releases
hanging handlers at once.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

Mode = Literal["ok", "fenced", "malformed", "refusal", "error", "rate_limited", "hang", "trickle"]


@dataclass
class RecordedRequest:
    """One request the server received; header names are lower case."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def model(self) -> str | None:
        """The model name the client asked for."""
        model = self.body.get("model")
        return model if isinstance(model, str) else None


@dataclass
class FakeLLM:
    """A chat-completions server in a background thread.

    Parameters:
      mode(Mode): How to answer.
      reply(dict): The JSON object returned in ``ok`` and ``fenced`` modes.
      content(str | None): Raw message content for ``ok`` mode, overriding ``reply``.
      delay(float): Seconds to wait before every answer.
      hang_seconds(float): How long ``hang`` waits (the server's stop ends it sooner).
      trickle_seconds(float): The pause between bytes in ``trickle`` mode.
    """

    mode: Mode = "ok"
    reply: dict[str, Any] = field(default_factory=lambda: {"answer": 42})
    content: str | None = None
    delay: float = 0.0
    hang_seconds: float = 60.0
    trickle_seconds: float = 0.1
    requests: list[RecordedRequest] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _stopping: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def base_url(self) -> str:
        """The URL to give the client, ending in ``/v1``."""
        assert self._server is not None, "the server is not running"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def start(self) -> FakeLLM:
        """Listen on an ephemeral port and serve in a daemon thread."""
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-llm", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release hanging handlers, stop serving and close the socket."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeLLM:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True if the server is stopping."""
        return self._stopping.wait(seconds)

    def answer(self) -> tuple[int, dict[str, str], dict[str, Any]]:
        """Status, extra headers and JSON body for the current mode."""
        if self.mode == "error":
            return 500, {}, _error("The server had an error while processing your request.", "server_error")
        if self.mode == "rate_limited":
            return 429, {"Retry-After": "1"}, _error("Rate limit reached.", "rate_limit_exceeded")
        if self.mode == "refusal":
            return 200, {}, completion(None, refusal="I can't help with that.")
        if self.mode == "malformed":
            return 200, {}, completion("Sure! Here are some thoughts, but not in JSON.")
        reply = json.dumps(self.reply, ensure_ascii=False)
        if self.mode == "fenced":
            return 200, {}, completion(f"Here you go:\n```json\n{reply}\n```\nAnything else?")
        return 200, {}, completion(self.content if self.content is not None else reply)


def completion(
    content: str | None, *, refusal: str | None = None, model: str = "fake-model"
) -> dict[str, Any]:
    """A chat completion in the OpenAI response shape."""
    return {
        "id": f"chatcmpl-{time.monotonic_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": refusal},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }


def _error(message: str, code: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": code, "param": None, "code": code}}


class _Server(ThreadingHTTPServer):
    """Daemon handler threads, not joined on close; quiet about clients that hung up."""

    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients time out and disconnect on purpose in these tests."""


def _handler_for(fake: FakeLLM) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        """Answers chat completions as ``fake`` says."""

        protocol_version = "HTTP/1.1"
        timeout = 5  # a socket timeout, so no handler waits forever on a silent client

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = {"raw": raw.decode("utf-8", "replace")}
            headers = {name.lower(): value for name, value in self.headers.items()}
            fake.requests.append(RecordedRequest(self.path, headers, body))
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._send(404, {}, _error(f"no route {self.path}", "not_found"))
                return
            pause = fake.hang_seconds if fake.mode == "hang" else fake.delay
            if (pause and fake.wait(pause)) or fake.mode == "hang":
                self.close_connection = True  # stopping, or hung up on: no answer
                return
            self._send(*fake.answer())

        def _send(self, status: int, headers: dict[str, str], body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if fake.mode == "trickle":
                self._trickle(data)
            else:
                self.wfile.write(data)

        def _trickle(self, data: bytes) -> None:
            for index in range(len(data)):
                self.wfile.write(data[index : index + 1])
                self.wfile.flush()
                if fake.wait(fake.trickle_seconds):
                    self.close_connection = True
                    return

        def log_message(self, format: str, *args: Any) -> None:
            """Silence the per-request lines on stderr."""

    return Handler
