"""Broker throughput: a no-op actor, 1 process x production's ``WORKER_THREADS`` (1; ``--threads``),
500 messages per round.

Usage: python bench/broker_throughput.py [--messages 500] [--rounds 5] [--brokers redis,sqs] [--threads 1]
                                        [--profile DIR]

- Redis (127.0.0.1:6379, database 14, queue and result keys unique to the run): the production stack
  (``build_broker``: envelope decoding, correlation, result publishing to a Redis list with its
  audit, stage timing, Dramatiq's Prometheus middleware and ours, liveness, and the worker's own
  concurrency: prefetch no more than its threads) fed the backend's raw JSON envelopes, against:
  - a bare ``RedisBroker`` with Dramatiq's default middleware and prefetch (twice the threads);
  - the same with the prefetch our stack uses (``dramatiq_queue_prefetch`` = threads): the same worker
    settings, so that the difference to our stack is the middleware alone;
  - bare ``RedisBroker``s whose actor appends one answer to a Redis list, with and without one INFO
    JSON line per message: the floor of any stack that answers (and logs) every message.
- SQS (a moto server on loopback): our broker with the same stack against plain dramatiq-sqs 0.4.4
  with Dramatiq's default middleware, fed its own base64 messages. Same server, same run.

Each stack runs as ``dramatiq`` runs it: ``process_boot`` is emitted before the worker starts (so
Prometheus has its metrics), the worker boots and shuts down, logging is production's (JSON, INFO)
and goes to a file, for both stacks. The clocks start when the worker has booted (after the
warm-up's model load, a one-off cost of the process). Rounds alternate between the stacks; each round fills the
queue first, then times a fresh worker until every message is processed. Prints, per stack, wall
time and process CPU time per message as median [min-max] over the rounds and the cost over the
first stack (ratio of the medians, measured in this one process; on a shared machine the CPU time is
the steadier figure). Then it checks the answers (one per message) and that every task log line
carries its correlationId. Target: our stack costs <= 15 % over the bare RedisBroker.

``--profile DIR`` runs one more round of the bare and of our Redis stack with every worker and
consumer thread under cProfile (thread CPU time), writes ``DIR/redis_bare.pstats`` and
``DIR/redis_ours.pstats`` and prints their top functions.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import json
import logging
import os
import pstats
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dramatiq
import redis
import structlog
from dramatiq.brokers.redis import RedisBroker
from dramatiq.encoder import JSONEncoder
from dramatiq.middleware import Middleware
from dramatiq.worker import _ConsumerThread, _WorkerThread
from dramatiq_sqs import SQSBroker

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from actors.broker import build_broker
from adapters.sinks import MemorySink
from core.logs import configure_logging
from core.services import Services
from core.settings import Settings
from middleware.warmup import WARM_UP_TEXT
from models.results import GraphGenerationResult, Status
from pipelines.embed import Embedder

from servers import REGION, aws_client, moto_server

#: Worker threads of every stack: production's ``WORKER_THREADS`` unless ``--threads`` says otherwise.
THREADS: int = Settings.model_fields["worker_threads"].default
REDIS_URL = "redis://127.0.0.1:6379/14"
TASK_TYPE = "BENCH_NOOP_REQUEST"
#: The production logger the answering baseline writes its one line with.
ANSWER_LOG = structlog.get_logger("middleware.results")
#: Process CPU seconds of each timed run, in order.
CPU_SECONDS: list[float] = []


class Counter:
    """Counts processed messages and signals when all are done."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.count = 0
        self.lock = threading.Lock()
        self.done = threading.Event()

    def hit(self) -> None:
        """Count one message."""
        with self.lock:
            self.count += 1
            if self.count >= self.target:
                self.done.set()


#: The embedder of every round, loaded once before the first round is timed: the Warmup middleware
#: loads it at worker boot, a one-off cost of the process, not the per-message cost measured here.
EMBEDDERS: dict[str, Embedder] = {}


def warmed(services: Services) -> Services:
    """``services`` with the process's embedder already loaded (Warmup then finds it warm)."""
    name = services.settings.embedder
    if name not in EMBEDDERS:
        EMBEDDERS[name] = services.embedder
        EMBEDDERS[name].embed([WARM_UP_TEXT])
    services.__dict__["_embedder"] = EMBEDDERS[name]  # the cache Services.embedder fills
    return services


class Clock(Middleware):
    """Starts the clocks when the worker has booted: after every other ``before_worker_boot`` hook
    (the warm-up's model load is the process's one-off cost, not a per-message one), before the
    worker starts its consumer and worker threads."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        """Start the clocks."""
        self.wall, self.cpu = time.perf_counter(), time.process_time()


def timed_run(broker: dramatiq.Broker, counter: Counter, queue: str, prefetch: int = 0) -> float:
    """Seconds for a freshly booted worker to process ``counter.target`` messages of ``queue``
    (``prefetch`` 0: Dramatiq's default, twice the threads)."""
    broker.emit_after("process_boot")  # as dramatiq's CLI does before it starts the worker
    clock = Clock()
    broker.add_middleware(clock)  # last: its boot hook runs after all the others
    worker = dramatiq.Worker(broker, queues={queue}, worker_threads=THREADS, worker_timeout=100)
    if prefetch:
        worker.queue_prefetch = prefetch  # as our Concurrency middleware sets it
    worker.start()
    if not counter.done.wait(timeout=600):
        raise SystemExit(f"only {counter.count} of {counter.target} messages were processed")
    elapsed = time.perf_counter() - clock.wall
    CPU_SECONDS.append(time.process_time() - clock.cpu)
    worker.stop()
    broker.close()
    return elapsed


def declare_noop(broker: dramatiq.Broker, counter: Counter, queue: str, *, task_actor: bool) -> None:
    """The no-op actor: plain, or serving a taskType and returning a result payload (our stack)."""
    if task_actor:

        def bench_noop(payload: dict[str, Any], task_id: str) -> GraphGenerationResult:
            counter.hit()
            return GraphGenerationResult(user_id=str(payload.get("userId")), status=Status.COMPLETED)

        dramatiq.actor(bench_noop, broker=broker, queue_name=queue, task_type=TASK_TYPE)
    else:

        def bench_noop_plain(payload: dict[str, Any]) -> None:
            counter.hit()

        dramatiq.actor(bench_noop_plain, broker=broker, queue_name=queue, actor_name="bench_noop")


def envelope(run: str, index: int) -> str:
    """The backend's request envelope of message ``index``."""
    return json.dumps({"taskId": f"{run}-{index}", "taskType": TASK_TYPE, "payload": {"userId": "b"}})


def fill_sqs(sqs: Any, url: str, bodies: list[str]) -> None:
    """Send ``bodies`` to the queue at ``url``."""
    for start in range(0, len(bodies), 10):
        entries = [{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies[start : start + 10])]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)


def sqs_ours(endpoint: str, messages: int) -> float:
    """Seconds of our SQS broker and stack for ``messages`` envelopes."""
    sqs = aws_client("sqs", endpoint)
    url = sqs.create_queue(QueueName=f"bench-ours-{uuid.uuid4().hex}")["QueueUrl"]
    result_url = sqs.create_queue(QueueName=f"bench-results-{uuid.uuid4().hex}")["QueueUrl"]
    settings = Settings(  # type: ignore[call-arg]
        BROKER="sqs",
        WORKER_THREADS=THREADS,  # the Concurrency middleware sets the thread count from it
        AWS_ENDPOINT_URL=endpoint,
        AWS_REGION=REGION,
        SQS_REQUEST_QUEUE_URL=url,
        SQS_RESULT_QUEUE_URL=result_url,
        HEALTH_FILE=Path(tempfile.gettempdir()) / f"bench-{uuid.uuid4().hex}.alive",
    )
    broker = build_broker(settings, warmed(Services(settings, sink=MemorySink())))
    counter = Counter(messages)
    declare_noop(broker, counter, "default", task_actor=True)
    run = uuid.uuid4().hex
    fill_sqs(sqs, url, [envelope(run, i) for i in range(messages)])
    return timed_run(broker, counter, "default")


def sqs_plain(endpoint: str, messages: int) -> float:
    """Seconds of plain dramatiq-sqs for ``messages`` messages."""
    dramatiq.set_encoder(JSONEncoder())
    sqs = aws_client("sqs", endpoint)
    url = sqs.create_queue(QueueName=f"bench-plain-{uuid.uuid4().hex}")["QueueUrl"]
    broker = SQSBroker(endpoint_url=endpoint, region_name=REGION)
    counter = Counter(messages)
    declare_noop(broker, counter, "default", task_actor=False)
    broker.queues["default"] = broker.sqs.Queue(url)
    bodies = []
    for index in range(messages):
        message = dramatiq.Message(
            queue_name="default", actor_name="bench_noop", args=({"i": index},), kwargs={}, options={}
        )
        bodies.append(base64.b64encode(message.encode()).decode())
    fill_sqs(sqs, url, bodies)
    return timed_run(broker, counter, "default")


class RedisRun:
    """One round on Redis: a queue and a result list of its own, removed afterwards."""

    def __init__(self, messages: int) -> None:
        self.messages = messages
        self.run = uuid.uuid4().hex[:12]
        self.queue = f"bench-{self.run}"
        self.results_key = f"bench-results-{self.run}"
        self.client = redis.Redis.from_url(REDIS_URL)

    def ours(self) -> float:
        """Seconds of the production stack for ``messages`` envelopes."""
        settings = Settings(  # type: ignore[call-arg]
            BROKER="redis",
            WORKER_THREADS=THREADS,  # the Concurrency middleware sets the thread count from it
            REDIS_URL=REDIS_URL,
            HEALTH_FILE=Path(tempfile.gettempdir()) / f"bench-{self.run}.alive",
        )
        services = warmed(Services(settings))
        services.sink.key = self.results_key  # type: ignore[attr-defined]
        broker = build_broker(settings, services)
        counter = Counter(self.messages)
        declare_noop(broker, counter, self.queue, task_actor=True)
        for index in range(self.messages):
            message = dramatiq.Message.decode(envelope(self.run, index).encode())
            broker.enqueue(message.copy(queue_name=self.queue))
        try:
            return timed_run(broker, counter, self.queue)
        finally:
            self.answers = self.client.llen(self.results_key)
            self.cleanup(broker)

    def bare(self, prefetch: int = 0) -> float:
        """Seconds of a bare RedisBroker for ``messages`` messages."""
        dramatiq.set_encoder(JSONEncoder())
        broker = RedisBroker(url=REDIS_URL)
        counter = Counter(self.messages)
        declare_noop(broker, counter, self.queue, task_actor=False)
        self.enqueue_noops(broker)
        try:
            return timed_run(broker, counter, self.queue, prefetch)
        finally:
            self.cleanup(broker)

    def bare_answering(self, *, logged: bool = False) -> float:
        """Seconds of a bare RedisBroker whose actor appends one answer to a Redis list per message
        (and, ``logged``, writes one INFO line for it): the least any stack that answers (and logs)
        every message on Redis can cost."""
        dramatiq.set_encoder(JSONEncoder())
        broker = RedisBroker(url=REDIS_URL)
        counter = Counter(self.messages)
        answers = redis.Redis.from_url(REDIS_URL)

        def bench_noop_answering(payload: dict[str, Any]) -> None:
            answers.rpush(self.results_key, json.dumps({"taskId": payload["i"], "status": "COMPLETED"}))
            if logged:
                ANSWER_LOG.info("bench.answered", status="COMPLETED", errorCode=None)
            counter.hit()

        dramatiq.actor(bench_noop_answering, broker=broker, queue_name=self.queue, actor_name="bench_noop")
        self.enqueue_noops(broker)
        try:
            return timed_run(broker, counter, self.queue)
        finally:
            self.cleanup(broker)

    def enqueue_noops(self, broker: dramatiq.Broker) -> None:
        """Enqueue ``messages`` plain Dramatiq messages for ``bench_noop``."""
        for index in range(self.messages):
            message = dramatiq.Message(
                queue_name=self.queue, actor_name="bench_noop", args=({"i": index},), kwargs={}, options={}
            )
            broker.enqueue(message)

    def cleanup(self, broker: dramatiq.Broker) -> None:
        """Remove this round's keys."""
        keys = [self.results_key, *self.client.keys(f"dramatiq:{self.queue}*")]
        self.client.delete(*keys)


@contextmanager
def profiled_threads(path: Path) -> Iterator[None]:
    """Worker and consumer threads started inside run under cProfile, timed in thread CPU time (what
    contends for the GIL, not time spent waiting for it or for Redis); merged into ``path``."""
    profiles: list[cProfile.Profile] = []
    originals = {cls: cls.run for cls in (_WorkerThread, _ConsumerThread)}

    def wrap(original: Callable[[Any], None]) -> Callable[[Any], None]:
        def run(self: Any) -> None:
            profile = cProfile.Profile(time.thread_time)
            profiles.append(profile)
            profile.runcall(original, self)

        return run

    for cls, original in originals.items():
        cls.run = wrap(original)  # type: ignore[method-assign]
    try:
        yield
    finally:
        for cls, original in originals.items():
            cls.run = original  # type: ignore[method-assign]
        stats = pstats.Stats(profiles[0])
        for profile in profiles[1:]:
            stats.add(profile)
        stats.dump_stats(path)


def per_message_us(seconds: list[float], messages: int) -> str:
    """``median [min-max]`` microseconds per message."""
    us = [s / messages * 1e6 for s in seconds]
    return f"{statistics.median(us):7.1f} us/msg [{min(us):.1f}-{max(us):.1f}]"


def compare(name: str, stacks: dict[str, Callable[[], float]], messages: int, rounds: int) -> None:
    """Run the stacks in turn, ``rounds`` times; print each one's wall and process CPU time per message
    (median [min-max]) and its cost over the first stack (ratio of the medians, same process)."""
    wall: dict[str, list[float]] = {label: [] for label in stacks}
    cpu: dict[str, list[float]] = {label: [] for label in stacks}
    for _ in range(rounds):
        for label, stack in stacks.items():
            wall[label].append(stack())
            cpu[label].append(CPU_SECONDS[-1])
    base = next(iter(stacks))
    for label in stacks:
        cost = statistics.median(wall[label]) / statistics.median(wall[base]) - 1
        cpu_cost = statistics.median(cpu[label]) / statistics.median(cpu[base]) - 1
        rate = messages / statistics.median(wall[label])
        print(
            f"{name} {label:<30} wall {per_message_us(wall[label], messages)} {rate:6.0f} msg/s cost {cost:+6.1%}"
            f" | CPU {per_message_us(cpu[label], messages)} cost {cpu_cost:+6.1%}"
        )


def check_logs(path: Path) -> tuple[int, int]:
    """(task log lines, task lines without a correlationId) of the bench's log file; the result sink's
    connection at each worker's boot is audited outside any task and not counted."""
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]
    tasks = [
        line
        for line in lines
        if line.get("event") in ("task.answered", "audit.start", "audit.success")
        and line.get("name") != "connect"
    ]
    return len(tasks), sum(1 for line in tasks if not line.get("correlationId"))


def main() -> int:
    global THREADS
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--brokers", default="redis,sqs")
    parser.add_argument("--profile", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=THREADS, help="worker threads (default: production's)")
    args = parser.parse_args()
    THREADS = args.threads
    log_dir = Path(tempfile.mkdtemp(prefix="bench-brokers-"))
    log_file = log_dir / "worker.log"
    with log_file.open("w", buffering=1) as stream:
        sys.stderr, stderr = stream, sys.stderr  # production: JSON lines at INFO on the process's stderr
        try:
            configure_logging("json", "INFO")
            logging.getLogger("werkzeug").setLevel(logging.ERROR)
            return run(args, log_file, stderr)
        finally:
            sys.stderr = stderr


def run(args: argparse.Namespace, log_file: Path, stderr: Any) -> int:
    """The comparisons chosen by ``--brokers``."""
    n, rounds = args.messages, args.rounds
    brokers = set(args.brokers.split(","))
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; 1 process x {THREADS} threads;")
    print(f"{n} messages per round, {rounds} rounds; logs (JSON, INFO): {log_file}")
    if "redis" in brokers:
        answers: list[int] = []

        def ours() -> float:
            redis_run = RedisRun(n)
            try:
                return redis_run.ours()
            finally:
                answers.append(redis_run.answers)

        stacks = {
            "bare RedisBroker": lambda: RedisRun(n).bare(),
            f"bare RedisBroker, prefetch {THREADS}": lambda: RedisRun(n).bare(prefetch=THREADS),
            "bare + one RPUSH answer": lambda: RedisRun(n).bare_answering(),
            "bare + RPUSH + one INFO line": lambda: RedisRun(n).bare_answering(logged=True),
            "ai-worker stack": ours,
        }
        compare("Redis", stacks, n, rounds)
        print(f"Redis answers published per round: {answers} (expected {n} each)")
        lines, missing = check_logs(log_file)
        print(f"Redis task log lines: {lines}, without correlationId: {missing}")
        if args.profile is not None:
            args.profile.mkdir(parents=True, exist_ok=True)
            for name, stack in (("redis_bare", lambda: RedisRun(n).bare()), ("redis_ours", ours)):
                path = args.profile / f"{name}.pstats"
                with profiled_threads(path):
                    stack()
                stats = pstats.Stats(str(path), stream=sys.stdout)
                print(
                    f"\nprofile {name}: {n} messages, thread CPU time of every worker and consumer thread: {path}"
                )
                stats.sort_stats("tottime").print_stats(20)
    if "sqs" in brokers:
        with moto_server() as endpoint:
            stacks = {
                "plain dramatiq-sqs 0.4.4": lambda: sqs_plain(endpoint, n),
                "ai-worker stack": lambda: sqs_ours(endpoint, n),
            }
            compare("SQS", stacks, n, rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
