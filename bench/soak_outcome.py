"""What the chaos soak observed: the answers, each worker process's log and end, the queues, the
stored results and Chroma's contents."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from soak_plan import BUCKET, Task

#: Finishing log events of one attempt of a task.
FINISHED = ("task.answered", "task.retry_scheduled")


@dataclass
class Answer:
    """One answer read from the result queue; ``at`` is its SentTimestamp (seconds)."""

    task_id: str
    at: float
    envelope: dict[str, Any]

    @property
    def payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = self.envelope.get("payload") or {}
        return payload


@dataclass
class Life:
    """One worker process: how it ended, and its (time, taskId, event) log lines."""

    name: str
    signal: str
    signalled_at: float
    exited_at: float
    timeline: list[tuple[float, str, str]]
    consumer_errors: list[float] = field(default_factory=list)
    ready: list[float] = field(default_factory=list)  # when each of its processes was ready

    def alive_at(self, moment: float) -> bool:
        """Not yet signalled at ``moment`` (a signalled process takes no new work)."""
        return not self.signal or moment < self.signalled_at

    def free_slots_at(self, moment: float, threads: int) -> int:
        """Worker threads of its ready processes not running a task at ``moment`` (0 once signalled)."""
        if not self.alive_at(moment):
            return 0
        ready = sum(1 for at in self.ready if at <= moment)
        return max(0, ready * threads - len(self.in_flight_at(moment)))

    def in_flight_at(self, moment: float) -> set[str]:
        """Tasks started and not finished (answered or retry scheduled) at ``moment``."""
        running: set[str] = set()
        for at, task, event in self.timeline:
            if at > moment:
                break
            (running.discard if event in FINISHED else running.add)(task)
        return running


def timeline(events: list[dict[str, Any]]) -> list[tuple[float, str, str]]:
    """(time, taskId, event) of every log line that names a task."""
    found = []
    for event in events:
        task, stamp = event.get("correlationId"), event.get("timestamp")
        if task and stamp:
            found.append((datetime.fromisoformat(stamp).timestamp(), str(task), str(event.get("event"))))
    return sorted(found)


def ready_times(events: list[dict[str, Any]]) -> list[float]:
    """When each process of a worker logged that it was ready."""
    return [
        datetime.fromisoformat(e["timestamp"]).timestamp()
        for e in events
        if e.get("event") == "Worker process is ready for action." and e.get("timestamp")
    ]


def consumer_errors(events: list[dict[str, Any]]) -> list[float]:
    """When the worker's consumer crashed (Dramatiq restarts it after 3 s)."""
    return [
        datetime.fromisoformat(e["timestamp"]).timestamp()
        for e in events
        if e.get("event") == "Consumer encountered an unexpected error." and e.get("timestamp")
    ]


@dataclass
class Outcome:
    """Everything observed in one soak run."""

    tasks: list[Task]
    answers: list[Answer]
    progress: int
    lives: list[Life]
    dead_letters: list[str]
    request_depth: int
    faults: dict[str, tuple[int, int]]  # where -> (planned, injected)
    unfired: list[str]
    visibility: int
    shutdown_seconds: int
    threads: int  # WORKER_THREADS of each worker process
    wall_seconds: float
    finished: bool
    errors: list[str]
    answered_at: dict[str, list[float]]  # taskId -> when a worker sent its answer (at the proxy)
    deleted_at: dict[str, list[float]]  # taskId -> when a worker deleted one of its messages
    received_at: dict[str, list[float]]  # taskId -> when a worker received one of its messages
    documents: dict[str, Any] = field(default_factory=dict)  # taskId -> graph.json / result.json
    missing_objects: list[str] = field(default_factory=list)
    vectors: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    cluster_rows: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def inspect_storage(self, s3: Any, chroma_port: int) -> None:
        """Read the result objects of every COMPLETED answer and every vector in Chroma."""
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        for answer in self.first_answers().values():
            for name in ("resultS3Key", "featuresS3Key", "summaryS3Key"):
                key = answer.payload.get(name)
                if not key:
                    continue
                try:
                    data = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
                except Exception:
                    self.missing_objects.append(f"{answer.task_id}: {key}")
                    continue
                if name == "resultS3Key":
                    self.documents[answer.task_id] = json.loads(data)
        client = chromadb.HttpClient(
            host="127.0.0.1", port=chroma_port, settings=ChromaSettings(anonymized_telemetry=False)
        )
        for collection in client.list_collections():
            rows = self.cluster_rows if collection.name.endswith("-clusters") else self.vectors
            offset = 0
            while True:
                page = collection.get(limit=1000, offset=offset, include=["metadatas"])
                rows.extend(zip(page["ids"], [dict(m or {}) for m in page["metadatas"] or []], strict=True))
                if len(page["ids"]) < 1000:
                    break
                offset += 1000

    def by_task(self) -> dict[str, list[Answer]]:
        grouped: dict[str, list[Answer]] = defaultdict(list)
        for answer in sorted(self.answers, key=lambda a: a.at):
            grouped[answer.task_id].append(answer)
        return grouped

    def first_answers(self) -> dict[str, Answer]:
        return {task: answers[0] for task, answers in self.by_task().items()}
