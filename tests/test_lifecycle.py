"""The worker's lifecycle on ECS Fargate, against a real SQS wire-protocol server (moto).

``dramatiq actors slow_actors`` runs in subprocesses as production runs it; the test-only
``slow_actors`` module adds an actor that works for as long as the test says. Checked: a long task
keeps its message (visibility heartbeat); SIGTERM stops the worker within its budget, releases the
unfinished message at once and a second worker answers it exactly once; after SIGKILL the task comes
back within the visibility timeout; ECS task protection follows the work; ``ai-worker health`` follows
the consumer; the task metrics reach Dramatiq's exposition server.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from cli.local import create_queues
from core.settings import Settings

from servers import AWS_ENV, REGION, aws_client, free_port, moto_server, wait_for

TESTS = Path(__file__).resolve().parent
VISIBILITY = 30
#: The worker's shutdown budget in these tests (production: 100 s inside ECS's 120 s stopTimeout).
BUDGET_MS = 3000


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture
def queues(endpoint: str, request: pytest.FixtureRequest) -> dict[str, str]:
    settings = Settings(AWS_ENDPOINT_URL=endpoint, AWS_REGION=REGION)  # type: ignore[call-arg]
    return create_queues(settings, prefix=request.node.name.replace("_", "-")[:40])


class EcsAgent:
    """The ECS agent's task protection endpoint: records every PUT."""

    def __init__(self) -> None:
        calls: list[dict[str, Any]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                calls.append({"path": self.path, **body})
                payload = json.dumps(
                    {"protection": {"ProtectionEnabled": body["ProtectionEnabled"]}}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.calls = calls
        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def uri(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/v3/task-id"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def agent() -> Iterator[EcsAgent]:
    server = EcsAgent()
    yield server
    server.close()


class Worker:
    """``dramatiq actors slow_actors`` in its own process group, logging to a file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        command = [
            str(Path(sys.executable).parent / "dramatiq"),
            "actors",
            "slow_actors",
            "--processes",
            "1",
            "--threads",
            "2",
            "--worker-shutdown-timeout",
            str(BUDGET_MS),
        ]
        python_path = os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))
        full_env = {**os.environ, **AWS_ENV, "PYTHONPATH": python_path, "PYTHONUNBUFFERED": "1", **env}
        self.output = log.open("wb")
        self.process = subprocess.Popen(
            command, env=full_env, stdout=self.output, stderr=subprocess.STDOUT, start_new_session=True
        )

    def lines(self) -> list[dict[str, Any]]:
        parsed = []
        for line in self.log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    parsed.append(json.loads(line))
                except ValueError:
                    continue
        return parsed

    def events(self, name: str) -> list[dict[str, Any]]:
        return [line for line in self.lines() if line.get("event") == name]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.output.close()


def worker_env(endpoint: str, queues: dict[str, str], tmp: Path, **extra: str) -> dict[str, str]:
    return {
        "BROKER": "sqs",
        **queues,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": REGION,
        "SQS_VISIBILITY_TIMEOUT": str(VISIBILITY),
        "BLOB_DIR": str(tmp / "blobs"),
        "CHROMA_PATH": str(tmp / "chroma"),
        "EMBEDDER": "lexical",
        "LOG_FORMAT": "json",
        "METRICS": "0",
        "HEALTH_FILE": str(tmp / "alive"),
        **extra,
    }


def send_slow_task(endpoint: str, queues: dict[str, str], task_id: str) -> None:
    body = {"taskId": task_id, "taskType": "SLOW_TEST_REQUEST", "timestamp": "2025-01-01T00:00:00Z"}
    body["payload"] = {"userId": "user-lc", "internalServiceToken": "secret"}
    aws_client("sqs", endpoint).send_message(
        QueueUrl=queues["SQS_REQUEST_QUEUE_URL"], MessageBody=json.dumps(body)
    )


def request_counts(endpoint: str, queues: dict[str, str]) -> tuple[int, int]:
    attributes = aws_client("sqs", endpoint).get_queue_attributes(
        QueueUrl=queues["SQS_REQUEST_QUEUE_URL"], AttributeNames=["All"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def answers(endpoint: str, queues: dict[str, str], wait: int = 1) -> list[dict[str, Any]]:
    sqs, found = aws_client("sqs", endpoint), []
    while True:
        received = sqs.receive_message(
            QueueUrl=queues["SQS_RESULT_QUEUE_URL"], MaxNumberOfMessages=10, WaitTimeSeconds=wait
        ).get("Messages", [])
        if not received:
            return found
        for message in received:
            found.append(json.loads(message["Body"]))
            sqs.delete_message(
                QueueUrl=queues["SQS_RESULT_QUEUE_URL"], ReceiptHandle=message["ReceiptHandle"]
            )


def health(tmp: Path) -> int:
    env = {**os.environ, "HEALTH_FILE": str(tmp / "alive")}
    command = [str(Path(sys.executable).parent / "ai-worker"), "health"]
    return subprocess.run(command, env=env, capture_output=True, timeout=10).returncode


def test_sigterm_releases_the_unfinished_task_to_another_worker(
    endpoint: str, queues: dict[str, str], agent: EcsAgent, tmp_path: Path
) -> None:
    first = Worker(
        worker_env(endpoint, queues, tmp_path, SLOW_TEST_SECONDS="600", ECS_AGENT_URI=agent.uri),
        tmp_path / "first.log",
    )
    second = None
    try:
        send_slow_task(endpoint, queues, "task_user-lc_TERM")
        wait_for(lambda: first.events("slow.started"), 120)
        assert wait_for(lambda: health(tmp_path) == 0, 15)
        assert agent.calls and agent.calls[-1]["ProtectionEnabled"] is True
        assert agent.calls[-1]["path"] == "/v3/task-id/task-protection/v1/state"

        started = time.monotonic()
        first.process.send_signal(signal.SIGTERM)
        assert first.process.wait(timeout=60) == 0
        shutdown = time.monotonic() - started
        visible, in_flight = request_counts(endpoint, queues)
        print(f"shutdown took {shutdown:.1f} s; request queue visible={visible} in flight={in_flight}")
        assert (visible, in_flight) == (1, 0)  # released at once, not after the visibility timeout
        assert shutdown < BUDGET_MS / 1000 + 25  # the budget, plus at most one long poll
        assert agent.calls[-1]["ProtectionEnabled"] is False
        assert health(tmp_path) == 1
        assert not first.events("task.answered")

        second = Worker(worker_env(endpoint, queues, tmp_path), tmp_path / "second.log")
        wait_for(lambda: second.events("task.answered"), 120)
        time.sleep(2)
        answered = [a for a in answers(endpoint, queues) if a["taskId"] == "task_user-lc_TERM"]
        assert len(answered) == 1 and answered[0]["payload"]["status"] == "COMPLETED"
        assert len(second.events("slow.started")) == 1
    finally:
        first.stop()
        if second is not None:
            second.stop()


def test_sigkill_brings_the_task_back_within_the_visibility_timeout(
    endpoint: str, queues: dict[str, str], tmp_path: Path
) -> None:
    first = Worker(worker_env(endpoint, queues, tmp_path, SLOW_TEST_SECONDS="600"), tmp_path / "first.log")
    second = None
    try:
        send_slow_task(endpoint, queues, "task_user-lc_KILL")
        wait_for(lambda: first.events("slow.started"), 120)
        second = Worker(worker_env(endpoint, queues, tmp_path / "b"), tmp_path / "second.log")
        wait_for(lambda: second and second.events("Worker process is ready for action."), 120)
        killed = time.monotonic()
        os.killpg(first.process.pid, signal.SIGKILL)
        first.process.wait()
        wait_for(lambda: second and second.events("slow.started"), VISIBILITY + 30)
        back = time.monotonic() - killed
        print(f"task back {back:.1f} s after SIGKILL (visibility timeout {VISIBILITY} s)")
        assert back <= VISIBILITY + 22  # the visibility timeout, plus at most one long poll
        wait_for(lambda: second and second.events("task.answered"), 60)
        answered = [a for a in answers(endpoint, queues) if a["taskId"] == "task_user-lc_KILL"]
        assert len(answered) == 1 and answered[0]["payload"]["status"] == "COMPLETED"
    finally:
        first.stop()
        if second is not None:
            second.stop()


def test_a_task_longer_than_the_visibility_timeout_keeps_its_message(
    endpoint: str, queues: dict[str, str], tmp_path: Path
) -> None:
    port = free_port()
    env = worker_env(
        endpoint,
        queues,
        tmp_path,
        SLOW_TEST_SECONDS=str(VISIBILITY + 20),
        METRICS="1",
        dramatiq_prom_host="127.0.0.1",
        dramatiq_prom_port=str(port),
        dramatiq_prom_db=str(tmp_path / "prom"),
    )
    worker = Worker(env, tmp_path / "worker.log")
    try:
        send_slow_task(endpoint, queues, "task_user-lc_LONG")
        wait_for(lambda: worker.events("slow.started"), 120)
        time.sleep(VISIBILITY + 5)
        assert request_counts(endpoint, queues) == (0, 1)  # still held, past the visibility timeout
        wait_for(lambda: worker.events("task.answered"), 60)
        assert len(worker.events("slow.started")) == 1  # never redelivered while it ran
        answered = [a for a in answers(endpoint, queues) if a["taskId"] == "task_user-lc_LONG"]
        assert len(answered) == 1
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
        assert (
            'ai_worker_answers_total{error_code="",status="COMPLETED",task_type="SLOW_TEST_REQUEST"} 1.0'
            in metrics
        )
        assert "dramatiq_messages_total" in metrics
    finally:
        worker.stop()
