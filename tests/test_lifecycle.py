"""The worker's lifecycle on ECS Fargate, against a real SQS + S3 wire-protocol server (moto).

Plain ``dramatiq actors`` runs in subprocesses exactly as production runs it, on real graph
generations of a synthetic history big enough to outlast what is being tested. Checked: SIGTERM stops
the worker within its own budget (``WORKER_SHUTDOWN_SECONDS``, whatever Dramatiq's flags say), releases
the unfinished message at once and a second worker answers it exactly once; SIGINT stops it within the
budget too; after SIGKILL the task comes back within the visibility timeout; a task longer than the
visibility timeout keeps its message (heartbeat); ECS task protection follows the work; ``ai-worker
health`` follows the consumer; the task metrics reach Dramatiq's exposition server.
"""

from __future__ import annotations

import json
import os
import random
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
from middleware.shutdown import ShutdownBudget

from helpers import FIXTURES, example
from servers import AWS_ENV, REGION, aws_client, free_port, moto_server, wait_for

VISIBILITY = 30
#: The worker's shutdown budget in these tests (production: 100 s inside ECS's 120 s stopTimeout).
BUDGET = 8
BUCKET = "lifecycle-payloads"
#: Conversations in the synthetic history: its graph generation outlasts the shutdown budget by far
#: and the visibility timeout (about 20 s on an idle 2-core machine; 2,000 took 8 s, too short).
LONG = 8000


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_server() as url:
        aws_client("s3", url).create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
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
    """Plain ``dramatiq actors`` in its own process group, logging to a file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        command = [str(Path(sys.executable).parent / "dramatiq"), "actors"]
        full_env = {**os.environ, **AWS_ENV, "PYTHONUNBUFFERED": "1", **env}
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

    def ready(self) -> bool:
        return "Worker process is ready for action." in self.log.read_text(errors="replace")

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
        "S3_PAYLOAD_BUCKET": BUCKET,
        "SQS_VISIBILITY_TIMEOUT": str(VISIBILITY),
        "WORKER_SHUTDOWN_SECONDS": str(BUDGET),
        "BLOB_DIR": str(tmp / "blobs"),
        "CHROMA_PATH": str(tmp / "chroma"),
        "EMBEDDER": "lexical",
        "LOG_FORMAT": "json",
        "METRICS": "0",
        "HEALTH_FILE": str(tmp / "alive"),
        "HF_HUB_OFFLINE": "1",
        **extra,
    }


def synthetic_history(size: int, seed: int = 0) -> list[dict[str, Any]]:
    """``size`` conversations of 2-8 turns, each drawn from one labelled topic's messages (Korean,
    English and mixed), with distinct titles and times."""
    rng = random.Random(seed)
    pools: dict[str, list[str]] = {}
    for name in ("ko", "en", "mixed"):
        fixture = json.loads((FIXTURES / "clustering" / f"{name}.json").read_text("utf-8"))
        for conversation in fixture["conversations"]:
            for message in conversation["messages"]:
                pools.setdefault(f"{name}:{conversation['topic']}", []).append(message["content"])
    topics = sorted(pools)
    history = []
    for index in range(size):
        pool = pools[rng.choice(topics)]
        turns = [rng.choice(pool) for _ in range(rng.randint(2, 8))]
        history.append(
            {
                "conversationId": f"synthetic-{index:05d}",
                "title": f"{turns[0][:40]} #{index}",
                "create_time": 1_735_689_600 + rng.randint(0, 2 * 365 * 86400),
                "messages": [
                    {"role": "user" if i % 2 == 0 else "assistant", "content": text}
                    for i, text in enumerate(turns)
                ],
            }
        )
    return history


def send_graph_generation(endpoint: str, queues: dict[str, str], task_id: str, size: int) -> None:
    """Upload a synthetic history of ``size`` conversations and send the backend's envelope for it.

    Each task has a user of its own: a user's second graph of the same history reuses the first's
    vectors (``pipelines.reuse``) and would finish in seconds."""
    prefix = f"graph-generation/{task_id}/"
    body = json.dumps(synthetic_history(size), ensure_ascii=False).encode()
    aws_client("s3", endpoint).put_object(Bucket=BUCKET, Key=prefix + "input.json", Body=body)
    envelope = example("request_graph_generation.json")
    envelope["taskId"] = task_id
    envelope["payload"].update(
        {"userId": task_id.removeprefix("task_"), "s3Key": prefix, "bucket": BUCKET, "includeSummary": False}
    )
    aws_client("sqs", endpoint).send_message(
        QueueUrl=queues["SQS_REQUEST_QUEUE_URL"], MessageBody=json.dumps(envelope)
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


def final_answers(endpoint: str, queues: dict[str, str], task_id: str) -> list[dict[str, Any]]:
    """The answers (not progress) on the result queue for ``task_id``."""
    return [
        a
        for a in answers(endpoint, queues)
        if a["taskId"] == task_id and not a["taskType"].endswith("_PROGRESS")
    ]


def test_sigterm_stops_within_the_budget_and_another_worker_answers_once(
    endpoint: str, queues: dict[str, str], agent: EcsAgent, tmp_path: Path
) -> None:
    task_id = "task_user-lc-term_TERM"
    first = Worker(worker_env(endpoint, queues, tmp_path, ECS_AGENT_URI=agent.uri), tmp_path / "first.log")
    second = None
    try:
        send_graph_generation(endpoint, queues, task_id, LONG)
        wait_for(lambda: first.events("ingest.done"), 120)
        assert wait_for(lambda: health(tmp_path) == 0, 15)
        assert agent.calls and agent.calls[-1]["ProtectionEnabled"] is True
        assert agent.calls[-1]["path"] == "/v3/task-id/task-protection/v1/state"

        started = time.monotonic()
        first.process.send_signal(signal.SIGTERM)
        assert first.process.wait(timeout=BUDGET + 30) == 0
        shutdown = time.monotonic() - started
        visible = wait_for(lambda: request_counts(endpoint, queues) == (1, 0), 5, interval=0.2)
        print(f"shutdown took {shutdown:.1f} s (budget {BUDGET} s); released message visible: {visible}")
        assert shutdown < BUDGET + 10
        assert first.events("worker.shutdown_deadline"), "the graph generation ended before the budget"
        assert sum(e["released"] for e in first.events("worker.shutdown_exit")) == 1
        assert not first.events("task.answered")
        assert agent.calls[-1]["ProtectionEnabled"] is False
        assert health(tmp_path) == 1

        second = Worker(worker_env(endpoint, queues, tmp_path / "b"), tmp_path / "second.log")
        wait_for(lambda: second and second.events("task.answered"), 240)
        time.sleep(2)
        (answer,) = final_answers(endpoint, queues, task_id)
        assert answer["payload"]["status"] == "COMPLETED"
        assert len(second.events("ingest.done")) == 1
        assert request_counts(endpoint, queues) == (0, 0)
    finally:
        first.stop()
        if second is not None:
            second.stop()


def test_sigkill_brings_the_task_back_within_the_visibility_timeout(
    endpoint: str, queues: dict[str, str], tmp_path: Path
) -> None:
    first = Worker(worker_env(endpoint, queues, tmp_path), tmp_path / "first.log")
    second = None
    try:
        send_graph_generation(endpoint, queues, "task_user-lc-kill_KILL", LONG)
        wait_for(lambda: first.events("ingest.done"), 120)
        second = Worker(worker_env(endpoint, queues, tmp_path / "b"), tmp_path / "second.log")
        wait_for(lambda: second and second.ready(), 120)
        killed = time.monotonic()
        os.killpg(first.process.pid, signal.SIGKILL)
        first.process.wait()
        wait_for(lambda: second and second.events("ingest.done"), VISIBILITY + 30)
        back = time.monotonic() - killed
        print(f"task back {back:.1f} s after SIGKILL (visibility timeout {VISIBILITY} s)")
        assert back <= VISIBILITY + 22  # the visibility timeout, plus at most one long poll
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
        METRICS="1",
        dramatiq_prom_host="127.0.0.1",
        dramatiq_prom_port=str(port),
        dramatiq_prom_db=str(tmp_path / "prom"),
    )
    worker = Worker(env, tmp_path / "worker.log")
    try:
        # A fast machine finishes LONG conversations inside the visibility timeout: double the history
        # until one task outlasts it.
        for attempt, size in enumerate((LONG, 2 * LONG, 4 * LONG), start=1):
            task_id = f"task_user-lc-long-{attempt}_LONG"
            send_graph_generation(endpoint, queues, task_id, size)
            wait_for(lambda n=attempt: len(worker.events("ingest.done")) == n, 120)
            received = time.monotonic()
            held_late = []  # the queue's (visible, in flight) past the visibility timeout, while it ran
            while len(worker.events("task.answered")) < attempt:
                assert time.monotonic() - received < 600, "the task did not finish"
                counts = request_counts(endpoint, queues)
                if (
                    time.monotonic() - received > VISIBILITY + 3
                    and len(worker.events("task.answered")) < attempt
                ):
                    held_late.append(counts)
                time.sleep(1)
            (answer,) = final_answers(endpoint, queues, task_id)
            assert answer["payload"]["status"] == "COMPLETED"
            if held_late:
                break
        ran = time.monotonic() - received
        assert held_late, (
            f"inconclusive: {size} conversations ran {ran:.0f} s, not past the visibility timeout"
        )
        assert set(held_late) == {(0, 1)}  # still held, never visible again while it ran
        assert len(worker.events("ingest.done")) == attempt  # never redelivered while it ran
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
        assert (
            'ai_worker_answers_total{error_code="",status="COMPLETED",task_type="GRAPH_GENERATION_REQUEST"} '
            f"{attempt}.0" in metrics
        )
        assert "dramatiq_messages_total" in metrics

        # Ctrl-C: SIGINT stops an idle worker within the budget too (its consumers sit in a long poll).
        started = time.monotonic()
        worker.process.send_signal(signal.SIGINT)
        assert worker.process.wait(timeout=BUDGET + 30) == 0
        assert time.monotonic() - started < BUDGET + 10
        assert request_counts(endpoint, queues) == (0, 0)
    finally:
        worker.stop()


def test_the_deadline_releases_flushes_and_exits_while_a_clean_shutdown_cancels_it() -> None:
    released, exits = [], []
    late = ShutdownBudget(0.2, release=lambda: released.append(1) or 1, exit=exits.append)
    late.before_worker_shutdown(None, None)  # type: ignore[arg-type]
    wait_for(lambda: exits, 5, interval=0.05)
    assert (released, exits) == ([1], [0])

    in_time = ShutdownBudget(0.5, release=lambda: released.append(2) or 1, exit=exits.append)
    in_time.before_worker_shutdown(None, None)  # type: ignore[arg-type]
    in_time.after_worker_shutdown(None, None)  # type: ignore[arg-type]
    time.sleep(1)
    assert (released, exits) == ([1], [0])
