"""Broker throughput: a no-op actor, 1 process x 8 threads, 500 messages per run.

Usage: python bench/brokers.py [--messages 500] [--rounds 3]

- SQS (a moto server on loopback): our broker with the full middleware stack, fed the backend's
  raw JSON envelopes, against plain dramatiq-sqs 0.4.4 with Dramatiq's default middleware, fed its
  own base64 messages. Same server, same run.
- Redis (127.0.0.1:6379, database 14): our full middleware stack (envelope decoding, correlation,
  result publishing to a Redis list) against a bare RedisBroker.

Each round fills the queue first, then times the worker from start until every message is processed.
Logging is configured as in production at LOG_LEVEL=WARNING for both stacks, so that per-message
INFO lines (ours and Dramatiq's) do not count as middleware cost.
Prints messages/s (median of the rounds) and the ratios. Targets: ours >= 1.0x plain dramatiq-sqs;
our middleware costs <= 15 % on Redis.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.encoder import JSONEncoder
from dramatiq_sqs import SQSBroker

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from actors.broker import build_broker
from adapters.sinks import MemorySink
from core.logs import configure_logging
from core.services import Services
from core.settings import Settings
from models.results import GraphGenerationResult, Status

from servers import REGION, aws_client, moto_server

THREADS = 8
REDIS_URL = "redis://127.0.0.1:6379/14"


class Counter:
    """Counts processed messages and signals when all are done."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.count = 0
        self.lock = threading.Lock()
        self.done = threading.Event()

    def hit(self) -> None:
        with self.lock:
            self.count += 1
            if self.count >= self.target:
                self.done.set()


def timed_run(broker: dramatiq.Broker, counter: Counter) -> float:
    """Seconds for a fresh worker to process ``counter.target`` messages."""
    started = time.perf_counter()
    worker = dramatiq.Worker(broker, worker_threads=THREADS, worker_timeout=1000)
    worker.start()
    if not counter.done.wait(timeout=600):
        raise SystemExit(f"only {counter.count} of {counter.target} messages were processed")
    elapsed = time.perf_counter() - started
    worker.stop()
    return elapsed


def declare_noop(broker: dramatiq.Broker, counter: Counter, *, task_actor: bool) -> None:
    """The no-op actor: plain, or serving a taskType and returning a result payload (our stack)."""
    if task_actor:

        def bench_noop(payload: dict[str, Any], task_id: str) -> GraphGenerationResult:
            counter.hit()
            return GraphGenerationResult(user_id=str(payload.get("userId")), status=Status.COMPLETED)

        dramatiq.actor(bench_noop, broker=broker, queue_name="default", task_type="BENCH_NOOP_REQUEST")
    else:

        def bench_noop_plain(payload: dict[str, Any]) -> None:
            counter.hit()

        dramatiq.actor(bench_noop_plain, broker=broker, queue_name="default", actor_name="bench_noop")


def envelope(index: int) -> str:
    return json.dumps(
        {"taskId": f"bench-{index}", "taskType": "BENCH_NOOP_REQUEST", "payload": {"userId": "b"}}
    )


def fill_sqs(sqs: Any, url: str, bodies: list[str]) -> None:
    for start in range(0, len(bodies), 10):
        entries = [{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies[start : start + 10])]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)


def sqs_ours(endpoint: str, messages: int) -> float:
    sqs = aws_client("sqs", endpoint)
    url = sqs.create_queue(QueueName=f"bench-ours-{time.monotonic_ns()}")["QueueUrl"]
    result_url = sqs.create_queue(QueueName=f"bench-results-{time.monotonic_ns()}")["QueueUrl"]
    settings = Settings(  # type: ignore[call-arg]
        BROKER="sqs",
        AWS_ENDPOINT_URL=endpoint,
        AWS_REGION=REGION,
        SQS_REQUEST_QUEUE_URL=url,
        SQS_RESULT_QUEUE_URL=result_url,
    )
    broker = build_broker(settings, Services(settings, sink=MemorySink()))
    counter = Counter(messages)
    declare_noop(broker, counter, task_actor=True)
    fill_sqs(sqs, url, [envelope(i) for i in range(messages)])
    return timed_run(broker, counter)


def sqs_plain(endpoint: str, messages: int) -> float:
    dramatiq.set_encoder(JSONEncoder())
    sqs = aws_client("sqs", endpoint)
    name = f"bench-plain-{time.monotonic_ns()}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    broker = SQSBroker(endpoint_url=endpoint, region_name=REGION)
    counter = Counter(messages)
    declare_noop(broker, counter, task_actor=False)
    broker.queues["default"] = broker.sqs.Queue(url)
    bodies = []
    for index in range(messages):
        message = dramatiq.Message(
            queue_name="default", actor_name="bench_noop", args=({"i": index},), kwargs={}, options={}
        )
        bodies.append(base64.b64encode(message.encode()).decode())
    fill_sqs(sqs, url, bodies)
    return timed_run(broker, counter)


def redis_ours(messages: int) -> float:
    settings = Settings(BROKER="redis", REDIS_URL=REDIS_URL)  # type: ignore[call-arg]
    broker = build_broker(settings, Services(settings))
    broker.flush_all()  # type: ignore[attr-defined]
    counter = Counter(messages)
    declare_noop(broker, counter, task_actor=True)
    for index in range(messages):
        broker.enqueue(dramatiq.Message.decode(envelope(index).encode()))
    return timed_run(broker, counter)


def redis_bare(messages: int) -> float:
    dramatiq.set_encoder(JSONEncoder())
    broker = RedisBroker(url=REDIS_URL)
    broker.flush_all()
    counter = Counter(messages)
    declare_noop(broker, counter, task_actor=False)
    for index in range(messages):
        broker.enqueue(
            dramatiq.Message(
                queue_name="default", actor_name="bench_noop", args=({"i": index},), kwargs={}, options={}
            )
        )
    return timed_run(broker, counter)


def median_rate(run: Callable[[], float], messages: int, rounds: int) -> float:
    return statistics.median(messages / run() for _ in range(rounds))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    configure_logging("json", "WARNING")  # as in production at LOG_LEVEL=WARNING, for both stacks
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    n, rounds = args.messages, args.rounds
    print(f"machine: {os.cpu_count()} cores; 1 process x {THREADS} threads; {n} messages; median of {rounds}")
    with moto_server() as endpoint:
        plain = median_rate(lambda: sqs_plain(endpoint, n), n, rounds)
        ours = median_rate(lambda: sqs_ours(endpoint, n), n, rounds)
    print(f"SQS   plain dramatiq-sqs 0.4.4 : {plain:8.1f} msg/s")
    print(f"SQS   ai-worker broker + stack : {ours:8.1f} msg/s   ratio {ours / plain:.2f}x (target >= 1.0x)")
    bare = median_rate(lambda: redis_bare(n), n, rounds)
    full = median_rate(lambda: redis_ours(n), n, rounds)
    cost = 1 - full / bare
    print(f"Redis bare RedisBroker         : {bare:8.1f} msg/s")
    print(f"Redis ai-worker middleware     : {full:8.1f} msg/s   middleware cost {cost:.1%} (target <= 15 %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
