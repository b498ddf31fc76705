"""Chaos soak: the worker's promises under faults, on real servers.

Usage: python bench/soak.py [--tasks 1000] [--kills 3] [--terms 3] [--large 6] [--seed 1] [--keep DIR]
(``make soak``; ``tests/test_soak.py`` runs a short one: 100 tasks, one SIGKILL, one SIGTERM).

Two workers started as production starts them (``dramatiq actors``: one process per CPU,
``BROKER=sqs``, ``WORKER_THREADS=2``, ``EMBEDDER=hybrid``, ``SQS_VISIBILITY_TIMEOUT=30``,
``WORKER_SHUTDOWN_SECONDS=20``) consume a request queue (redrive to a DLQ after 5 receives) on a
``moto_server`` process (SQS + S3; its queue operations made atomic as on SQS:
``tests/atomic_moto.py``) and share a ``chroma run`` server. The soak plays the backend with boto3:
it uploads each task's input, then sends the backend's envelope, in waves so that at most ``--wave``
requests are visible, and reads the result queue. The task mix is ``soak_plan.py``. Transient faults come from fault-injecting HTTP
proxies in front of S3/SQS and Chroma (503s and dropped connections for selected requests); the
worker's own retry backoff (15 s at least) is left as production has it. The S3/SQS proxy also times
the workers' SQS calls (receive, answer, delete). Workers are SIGKILLed ``--kills`` times and
SIGTERMed ``--terms`` times at random moments (a large task is sent just before each, and a worker
running one is preferred), each restarted at once.

Prints the figures and a table of checks (``soak_checks.py``); exits 1 unless every check passes.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from cli.local import create_queues
from core.settings import Settings
from soak_checks import evaluate, print_report
from soak_outcome import Answer, Life, Outcome, consumer_errors, ready_times, timeline
from soak_plan import BUCKET, Planner
from soak_workers import SqsWatch, Workers

from servers import AWS_ENV, REGION, Fault, FaultProxy, aws_client, chroma_server, moto_process, wait_for

#: Seconds a dying worker's task may stay invisible (the worker's SQS_VISIBILITY_TIMEOUT).
VISIBILITY = 30
#: The worker's shutdown budget on SIGTERM (WORKER_SHUTDOWN_SECONDS).
SHUTDOWN_SECONDS = 20
#: Tasks each worker process runs at once (WORKER_THREADS).
THREADS = 2


class Soak:
    """One soak run: the servers, the workers, the backend's side and the chaos."""

    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.rng = random.Random(args.seed)
        self.tasks = Planner(args.seed).plan(args.tasks, args.large)
        events = ["SIGKILL"] * args.kills + ["SIGTERM"] * args.terms
        self.rng.shuffle(events)
        points = sorted(int(self.rng.uniform(0.1, 0.9) * len(self.tasks)) for _ in events)
        self.schedule = list(zip(events, points, strict=True))
        # a large task just before each signal, so that some signals find one running
        large = [i for i, t in enumerate(self.tasks) if t.kind == "large"]
        for index, point in zip(large, points, strict=False):
            target = max(0, point - 3)
            self.tasks[index], self.tasks[target] = self.tasks[target], self.tasks[index]
        self.large = {t.task_id for t in self.tasks if t.kind == "large"}
        self.answers: list[Answer] = []
        self.progress = 0
        self.sent = 0
        self.stop = threading.Event()
        self.errors: list[str] = []

    def run(self) -> Outcome:
        with ExitStack() as stack:
            endpoint = stack.enter_context(moto_process(self.work / "moto.log"))
            self.watch = SqsWatch()
            s3_proxy = stack.enter_context(FaultProxy(endpoint, observer=self.watch))
            chroma_port = stack.enter_context(chroma_server(self.work / "chroma"))
            chroma_proxy = stack.enter_context(FaultProxy(f"http://127.0.0.1:{chroma_port}"))
            self.proxies = {"s3": s3_proxy, "chroma": chroma_proxy}
            settings = Settings(AWS_ENDPOINT_URL=endpoint, AWS_REGION=REGION, S3_PAYLOAD_BUCKET=BUCKET)  # type: ignore[call-arg]
            self.urls = create_queues(settings, prefix=f"soak-{os.getpid()}")
            self.sqs, self.s3 = aws_client("sqs", endpoint), aws_client("s3", endpoint)
            env = {
                "BROKER": "sqs",
                **self.urls,
                "AWS_ENDPOINT_URL": s3_proxy.url,
                "AWS_REGION": REGION,
                "S3_PAYLOAD_BUCKET": BUCKET,
                "CHROMA_HOST": "127.0.0.1",
                "CHROMA_PORT": str(chroma_proxy.port),
                "EMBEDDER": "hybrid",
                "SQS_VISIBILITY_TIMEOUT": str(VISIBILITY),
                "WORKER_SHUTDOWN_SECONDS": str(SHUTDOWN_SECONDS),
                "WORKER_THREADS": str(THREADS),
                "METRICS": "0",
                "LOG_FORMAT": "json",
                "HF_HUB_OFFLINE": "1",
                "PYTHONUNBUFFERED": "1",
            }
            self.workers = Workers(env, self.work, SHUTDOWN_SECONDS)
            started = time.time()
            for slot in ("A", "B"):
                self.workers.start(slot)
            wait_for(lambda: all(i.ready() for i in self.workers.current.values()), 180)
            threads = [
                threading.Thread(target=self.collect, daemon=True),
                threading.Thread(target=self.feed, daemon=True),
                threading.Thread(target=self.chaos, daemon=True),
            ]
            for thread in threads:
                thread.start()
            finished = self.wait_until_done(started)
            threads[2].join(timeout=SHUTDOWN_SECONDS + 120)
            time.sleep(3)  # an answer sent as the queue emptied
            self.stop.set()
            threads[0].join(timeout=30)
            self.workers.stop_all()
            lives = [
                Life(
                    i.name,
                    i.signal,
                    i.signalled_at,
                    i.exited_at,
                    timeline(i.events()),
                    consumer_errors(i.events()),
                    ready_times(i.events()),
                )
                for i in self.workers.incarnations
            ]
            faults = {
                where: (sum(f.times for f in p.faults), sum(f.injected for f in p.faults))
                for where, p in self.proxies.items()
            }
            unfired = [
                f"{where} {f.marker}: {f.injected}/{f.times}"
                for where, p in self.proxies.items()
                for f in p.faults
                if f.injected < f.times
            ]
            outcome = Outcome(
                tasks=self.tasks,
                answers=self.answers,
                progress=self.progress,
                lives=lives,
                dead_letters=self.drain(self.urls["SQS_DEAD_LETTER_QUEUE_URL"]),
                request_depth=self.depth(self.urls["SQS_REQUEST_QUEUE_URL"]),
                faults=faults,
                unfired=unfired,
                visibility=VISIBILITY,
                shutdown_seconds=SHUTDOWN_SECONDS,
                threads=THREADS,
                wall_seconds=time.time() - started,
                finished=finished,
                errors=self.errors,
                answered_at=dict(self.watch.answered),
                deleted_at=dict(self.watch.deleted),
                received_at=dict(self.watch.received),
            )
            outcome.inspect_storage(self.s3, chroma_port)
            return outcome

    # the backend's side ------------------------------------------------------------------------

    def feed(self) -> None:
        """Upload each task's input and send its envelope, keeping at most ``wave`` requests visible."""
        try:
            for task in self.tasks:
                while self.visible() >= self.args.wave:
                    time.sleep(0.5)
                for spec in task.faults:
                    fault = Fault(spec.marker, spec.times, kind=spec.kind, method=spec.method)
                    self.proxies[spec.where].add(fault)
                for key, data in task.uploads.items():
                    self.s3.put_object(Bucket=BUCKET, Key=key, Body=data)
                sent = self.sqs.send_message(
                    QueueUrl=self.urls["SQS_REQUEST_QUEUE_URL"], MessageBody=task.body
                )
                task.message_id, task.sent_at = sent["MessageId"], time.time()
                task.task_id = task.task_id or task.message_id
                self.sent += 1
        except Exception as error:
            self.errors.append(f"feeder: {error!r}")

    def collect(self) -> None:
        """Read (and delete) every answer and progress message on the result queue."""
        url = self.urls["SQS_RESULT_QUEUE_URL"]
        while not self.stop.is_set():
            try:
                received = self.sqs.receive_message(
                    QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, AttributeNames=["SentTimestamp"]
                ).get("Messages", [])
            except Exception as error:
                self.errors.append(f"collector: {error!r}")
                time.sleep(1)
                continue
            for message in received:
                body = json.loads(message["Body"])
                if body.get("taskType", "").endswith("_PROGRESS"):
                    self.progress += 1
                else:
                    at = int(message["Attributes"]["SentTimestamp"]) / 1000
                    self.answers.append(Answer(str(body.get("taskId")), at, body))
            if received:
                self.sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received)
                    ],
                )

    def chaos(self) -> None:
        """SIGKILL and SIGTERM workers at random moments spread over the feed, restarting each."""
        for event, point in self.schedule:
            while self.sent < point and not self.stop.is_set():
                time.sleep(0.5)
            slot = self.pick_slot()
            if slot is None:
                continue
            try:
                if event == "SIGKILL":
                    self.workers.kill(slot)
                else:
                    self.workers.terminate(slot)
                wait_for(lambda s=slot: self.workers.current[s].ready(), 180)  # type: ignore[misc]
            except Exception as error:
                self.errors.append(f"chaos: {error!r}")

    def pick_slot(self) -> str | None:
        """A ready worker running a large task (waiting up to 60 s for one), else one running any
        task, else any ready worker."""
        deadline = time.monotonic() + 60
        while not self.stop.is_set():
            ready = [s for s, i in self.workers.current.items() if i.ready()]
            running = {s: self.workers.in_flight(self.workers.current[s]) for s in ready}
            large = [s for s in ready if running[s] & self.large]
            busy = [s for s in ready if running[s]]
            if large or (time.monotonic() > deadline and (busy or ready)):
                return self.rng.choice(large or busy or ready)
            time.sleep(0.5)
        return None

    def wait_until_done(self, started: float) -> bool:
        """Wait until everything is sent and the request queue stays empty (nothing visible, in
        flight or delayed: no work is left anywhere) for a few seconds, or the time is up."""
        deadline, empty_since = started + self.args.timeout, None
        while time.time() < deadline:
            if self.sent == len(self.tasks) and self.depth(self.urls["SQS_REQUEST_QUEUE_URL"]) == 0:
                empty_since = empty_since or time.time()
                if time.time() - empty_since >= 10:
                    return True
            else:
                empty_since = None
            time.sleep(2)
        return False

    def visible(self) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.urls["SQS_REQUEST_QUEUE_URL"], AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"])

    def depth(self, url: str) -> int:
        """Visible + in flight + delayed."""
        attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        names = (
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        )
        return sum(int(attributes[name]) for name in names)

    def drain(self, url: str) -> list[str]:
        bodies: list[str] = []
        while True:
            received = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
                "Messages", []
            )
            if not received:
                return bodies
            for message in received:
                bodies.append(message["Body"])
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--kills", type=int, default=3, help="SIGKILLs of a worker")
    parser.add_argument("--terms", type=int, default=3, help="SIGTERMs of a worker")
    parser.add_argument("--large", type=int, default=6, help="large graph-generation tasks")
    parser.add_argument("--wave", type=int, default=50, help="most requests visible at once")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=3600, help="seconds before giving up")
    parser.add_argument("--keep", type=Path, help="keep logs and data in this folder")
    return parser.parse_args(argv)


def soak(argv: list[str] | None = None) -> Outcome:
    """Run one soak; returns its outcome (``outcome.ok``, ``outcome.checks``)."""
    args = parse_args(argv)
    os.environ.update(AWS_ENV)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        return Soak(args, args.keep).run()
    with tempfile.TemporaryDirectory(prefix="ai-worker-soak-") as work:
        return Soak(args, Path(work)).run()


def main() -> None:
    outcome = soak()
    checks = evaluate(outcome)
    print_report(outcome, checks)
    raise SystemExit(0 if all(c.ok for c in checks) else 1)


if __name__ == "__main__":
    main()
