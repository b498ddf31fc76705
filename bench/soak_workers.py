"""The soak's worker processes (``dramatiq actors``, started, signalled and restarted) and the watch
on their SQS calls."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from soak_outcome import Life, timeline

from servers import AWS_ENV


@dataclass
class Incarnation:
    """One worker process: its log, when it started, and how it ended."""

    slot: str
    number: int
    log: Path
    process: subprocess.Popen[bytes]
    started: float = field(default_factory=time.time)
    signal: str = ""
    signalled_at: float = 0.0
    exited_at: float = 0.0

    @property
    def name(self) -> str:
        return f"{self.slot}{self.number}"

    def events(self) -> list[dict[str, Any]]:
        """The JSON log lines written so far."""
        found = []
        for line in self.log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    found.append(json.loads(line))
                except ValueError:
                    continue
        return found

    def ready(self) -> bool:
        return any(e.get("event") == "Worker process is ready for action." for e in self.events())


class Workers:
    """Two worker slots, each running one ``dramatiq actors`` process at a time."""

    def __init__(self, env: dict[str, str], logs: Path, shutdown_seconds: int) -> None:
        self.env = env
        self.shutdown_seconds = shutdown_seconds
        self.logs = logs
        self.incarnations: list[Incarnation] = []
        self.current: dict[str, Incarnation] = {}
        self.lock = threading.Lock()

    def start(self, slot: str) -> Incarnation:
        """Start (or restart) the worker of ``slot``."""
        number = sum(1 for i in self.incarnations if i.slot == slot) + 1
        log = self.logs / f"worker-{slot}{number}.log"
        env = {**os.environ, **AWS_ENV, **self.env, "HEALTH_FILE": str(self.logs / f"alive-{slot}")}
        command = [str(Path(sys.executable).parent / "dramatiq"), "actors"]  # as production runs it
        with log.open("wb") as output:
            process = subprocess.Popen(
                command, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )
        incarnation = Incarnation(slot, number, log, process)
        with self.lock:
            self.incarnations.append(incarnation)
            self.current[slot] = incarnation
        return incarnation

    def kill(self, slot: str) -> Incarnation:
        """SIGKILL every process of the slot's worker (a lost host), then start a new one."""
        incarnation = self.current[slot]
        incarnation.signal, incarnation.signalled_at = "SIGKILL", time.time()
        os.killpg(incarnation.process.pid, signal.SIGKILL)
        incarnation.process.wait()
        incarnation.exited_at = time.time()
        self.start(slot)
        return incarnation

    def terminate(self, slot: str) -> Incarnation:
        """SIGTERM the slot's worker (a scale-in), wait for it to exit, then start a new one."""
        incarnation = self.current[slot]
        incarnation.signal, incarnation.signalled_at = "SIGTERM", time.time()
        incarnation.process.send_signal(signal.SIGTERM)
        try:
            incarnation.process.wait(timeout=self.shutdown_seconds + 90)
        except subprocess.TimeoutExpired:  # stopTimeout passed: ECS would SIGKILL now
            os.killpg(incarnation.process.pid, signal.SIGKILL)
            incarnation.process.wait()
            incarnation.signal = "SIGTERM+SIGKILL"
        incarnation.exited_at = time.time()
        self.start(slot)
        return incarnation

    def in_flight(self, incarnation: Incarnation) -> set[str]:
        """Task ids the worker has started and not yet answered or scheduled for retry."""
        return Life(incarnation.name, "", 0.0, 0.0, timeline(incarnation.events())).in_flight_at(time.time())

    def stop_all(self) -> None:
        """SIGTERM the running workers and wait for them."""
        for incarnation in self.current.values():
            if incarnation.process.poll() is None:
                incarnation.process.send_signal(signal.SIGTERM)
        for incarnation in self.current.values():
            try:
                incarnation.process.wait(timeout=self.shutdown_seconds + 90)
            except subprocess.TimeoutExpired:
                os.killpg(incarnation.process.pid, signal.SIGKILL)
                incarnation.process.wait()


class SqsWatch:
    """Times the workers' SQS calls as they pass the proxy: when a message of each task was received
    (ReceiveMessage) and deleted (DeleteMessage[Batch]), and when the task was answered (SendMessage
    of a result)."""

    def __init__(self) -> None:
        self.tasks: dict[str, str] = {}  # receipt handle -> taskId
        self.answered: dict[str, list[float]] = defaultdict(list)
        self.deleted: dict[str, list[float]] = defaultdict(list)
        self.received: dict[str, list[float]] = defaultdict(list)
        self.lock = threading.Lock()

    def __call__(self, method: str, headers: dict[str, str], body: bytes, data: bytes, at: float) -> None:
        action = headers.get("X-Amz-Target", "").removeprefix("AmazonSQS.")
        try:
            if action == "ReceiveMessage":
                for message in json.loads(data).get("Messages", []):
                    task = task_of(message["Body"], message["MessageId"])
                    with self.lock:
                        self.tasks[message["ReceiptHandle"]] = task
                        self.received[task].append(time.time())
            elif action == "SendMessage":
                envelope = json.loads(json.loads(body)["MessageBody"])
                if isinstance(envelope, dict) and str(envelope.get("taskType", "")).endswith("_RESULT"):
                    with self.lock:
                        self.answered[str(envelope["taskId"])].append(at)
            elif action in ("DeleteMessage", "DeleteMessageBatch"):
                request = json.loads(body)
                with self.lock:
                    for entry in request.get("Entries") or [request]:
                        deleted = self.tasks.get(entry["ReceiptHandle"])
                        if deleted:
                            self.deleted[deleted].append(at)
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            return  # not an exchange of interest (a retry's base64 body, a poison body...)


def task_of(body: str, message_id: str) -> str:
    """The taskId a request body is answered under: its envelope's, a retry's, else the message id."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        try:
            data = json.loads(base64.b64decode(body, validate=True))["options"]["envelope"]
        except (ValueError, KeyError, TypeError, RecursionError):
            return message_id
    return str(data.get("taskId") or message_id) if isinstance(data, dict) else message_id
