"""The chaos soak's task mix: what the backend sends, what it uploads first, and the answer each task
must get.

Valid graph-generation, add-node and summary tasks on small inputs (a few conversations from the
labelled fixtures), a few large graph-generation tasks (still running when a signal arrives), and
about 5 % each of poison bodies (dead-lettered), invalid payloads (answered, deleted) and valid tasks
behind an injected transient fault (S3 or Chroma; answered ``COMPLETED`` after the retry).
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cli.local import backend_envelope, new_task_id

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "clustering"
BUCKET = "soak-payloads"
#: Result taskType of each request taskType (and of a body that names none).
RESULT_TYPES = {
    "GRAPH_GENERATION_REQUEST": "GRAPH_GENERATION_RESULT",
    "ADD_NODE_REQUEST": "ADD_NODE_RESULT",
    "GRAPH_SUMMARY_REQUEST": "GRAPH_SUMMARY_RESULT",
}


@dataclass(frozen=True)
class FaultSpec:
    """A transient fault for one task: ``where`` is ``s3`` or ``chroma`` (``servers.Fault`` fields)."""

    where: str
    marker: str
    times: int
    kind: str = "503"
    method: str = ""


@dataclass
class Task:
    """One request of the soak and the answer it must get.

    ``task_id`` is the answer's ``taskId``; a body without a readable ``taskId`` is answered under its
    SQS message id (``task_id`` is empty until the body is sent).
    """

    kind: str  # graph | large | add_node | summary | poison | invalid | fault
    task_type: str
    task_id: str
    user_id: str
    body: str
    expect_code: str | None  # None: COMPLETED
    dead_letter: bool = False
    uploads: dict[str, bytes] = field(default_factory=dict)
    items: set[str] = field(default_factory=set)  # orig ids of the input
    faults: list[FaultSpec] = field(default_factory=list)
    note: str = ""
    message_id: str = ""
    sent_at: float = 0.0

    @property
    def result_type(self) -> str:
        """The answer's taskType."""
        return RESULT_TYPES.get(self.task_type, "GRAPH_GENERATION_RESULT")


def conversations() -> list[dict[str, Any]]:
    """The labelled fixture conversations (``messages`` shape), Korean, English and mixed."""
    found: list[dict[str, Any]] = []
    for name in ("en", "ko", "mixed"):
        data = json.loads((FIXTURES / f"{name}.json").read_text("utf-8"))
        found.extend(data["conversations"])
    return found


class Planner:
    """Builds the task list of a soak from a seed."""

    def __init__(self, seed: int, users: int = 30) -> None:
        self.rng = random.Random(seed)
        self.pool = conversations()
        self.users = [f"user-soak{i:03d}" for i in range(users)]
        self.serial = 0
        self.variants: dict[str, int] = {}

    def variant(self, kind: str, count: int) -> int:
        """The next of ``count`` variants of a kind, in turn (so that a short soak covers the first ones)."""
        number = self.variants.get(kind, 0)
        self.variants[kind] = number + 1
        return number % count

    def plan(self, count: int, large: int) -> list[Task]:
        """``count`` tasks: ~5 % poison, ~5 % invalid, ~5 % faulty, ``large`` large graphs, the rest valid."""
        bad = max(1, round(count * 0.05))
        kinds = ["poison"] * bad + ["invalid"] * bad + ["fault"] * bad + ["large"] * large
        rest = count - len(kinds)
        kinds += self.rng.choices(["graph", "add_node", "summary"], weights=[3, 3, 4], k=rest)
        self.rng.shuffle(kinds)
        return [getattr(self, kind)() for kind in kinds]

    # valid tasks --------------------------------------------------------------------------------

    def graph(self, size: int | None = None, user: str | None = None) -> Task:
        """GRAPH_GENERATION_REQUEST on a bundle of a few conversations."""
        user = user or self.rng.choice(self.users)
        task_id = new_task_id("GRAPH_GENERATION_REQUEST", user)
        chosen = self.rng.sample(self.pool, size or self.rng.randint(3, 5))
        prefix = f"graph-generation/{task_id}/"
        envelope = backend_envelope("GRAPH_GENERATION_REQUEST", task_id, user, prefix, BUCKET)
        envelope["payload"].update({"includeSummary": self.rng.random() < 0.3, "minClusters": 1})
        return Task(
            kind="graph" if size is None else "large",
            task_type="GRAPH_GENERATION_REQUEST",
            task_id=task_id,
            user_id=user,
            body=json.dumps(envelope, ensure_ascii=False),
            expect_code=None,
            uploads={prefix + "input.json": json.dumps(chosen, ensure_ascii=False).encode()},
            items={c["id"] for c in chosen},
        )

    def large(self) -> Task:
        """A graph-generation task big enough to be running when a signal arrives."""
        return self.graph(size=len(self.pool))

    def add_node(self, user: str | None = None) -> Task:
        """ADD_NODE_REQUEST with two or three new conversations (fresh ids) for one user."""
        user = user or self.rng.choice(self.users)
        task_id = new_task_id("ADD_NODE_REQUEST", user)
        self.serial += 1
        chosen = self.rng.sample(self.pool, self.rng.randint(2, 3))
        items = [
            {
                "conversationId": f"add{self.serial:05d}-{c['id']}",
                "title": c["title"],
                "messages": c["messages"],
            }
            for c in chosen
        ]
        key = f"add-node/{task_id}/batch.json"
        batch = {"userId": user, "existingClusters": [], "conversations": items, "notes": []}
        envelope = backend_envelope("ADD_NODE_REQUEST", task_id, user, key, BUCKET)
        return Task(
            kind="add_node",
            task_type="ADD_NODE_REQUEST",
            task_id=task_id,
            user_id=user,
            body=json.dumps(envelope, ensure_ascii=False),
            expect_code=None,
            uploads={key: json.dumps(batch, ensure_ascii=False).encode()},
            items={i["conversationId"] for i in items},
        )

    def summary(self, user: str | None = None) -> Task:
        """GRAPH_SUMMARY_REQUEST on a stored graph in the backend's looser shape."""
        user = user or self.rng.choice(self.users)
        task_id = new_task_id("GRAPH_SUMMARY_REQUEST", user)
        chosen = self.rng.sample(self.pool, self.rng.randint(5, 10))
        topics = sorted({c["topic"] for c in chosen})
        nodes = [
            {
                "id": f"n{i}",
                "orig_id": c["id"],
                "cluster_id": f"cluster_{topics.index(c['topic']) + 1}",
                "cluster_name": c["topic"].replace("_", " "),
                "title": c["title"],
                "keywords": [w for w in c["title"].lower().split() if len(w) > 3][:4],
                "timestamp": c.get("create_time"),
            }
            for i, c in enumerate(chosen)
        ]
        edges = [
            {"source": a["id"], "target": b["id"], "weight": 0.7}
            for a, b in itertools.pairwise(nodes)
            if a["cluster_id"] == b["cluster_id"]
        ]
        key = f"graph-summary/{task_id}/graph.json"
        language = self.rng.choice(["ko", "en", "zh"])
        envelope = backend_envelope("GRAPH_SUMMARY_REQUEST", task_id, user, key, BUCKET, language)
        return Task(
            kind="summary",
            task_type="GRAPH_SUMMARY_REQUEST",
            task_id=task_id,
            user_id=user,
            body=json.dumps(envelope, ensure_ascii=False),
            expect_code=None,
            uploads={key: json.dumps({"nodes": nodes, "edges": edges}, ensure_ascii=False).encode()},
        )

    # faults -------------------------------------------------------------------------------------

    def fault(self) -> Task:
        """A valid task behind a transient S3 or Chroma fault: still answered COMPLETED."""
        self.serial += 1
        variant = self.variant("fault", 6)
        if variant in (1, 4):  # vector store errors: a user of its own, so that the marker is exact
            user = f"user-vfault{self.serial:05d}"
            task = self.add_node(user) if variant == 1 else self.graph(user=user)
            task.faults.append(FaultSpec("chroma", user, times=1, method="POST"))
            task.note = "chroma 503 x1"
        elif variant == 3:
            task = self.summary()
            key = f"results/graph_summary/{task.user_id}/{task.task_id}/summary.json"
            task.faults.append(FaultSpec("s3", key, times=5, method="PUT"))
            task.note = "s3 PUT 503 x5"
        else:
            makers: tuple[Callable[..., Task], ...] = (self.graph, self.add_node, self.summary)
            task = makers[variant // 2]()
            (key,) = task.uploads
            times, kind = (5, "503") if self.rng.random() < 0.6 else (2, "drop")
            task.faults.append(FaultSpec("s3", key, times=times, kind=kind, method="GET"))
            task.note = f"s3 GET {kind} x{times}"
        task.kind = "fault"
        return task

    # bad requests -------------------------------------------------------------------------------

    def invalid(self) -> Task:
        """A request that is read but cannot be served: answered FAILED with its code, deleted."""
        user = self.rng.choice(self.users)
        variant = self.variant("invalid", 8)
        makers: tuple[Callable[..., Task], ...] = (self.graph, self.add_node, self.summary)
        task = makers[variant % 3](user=user)
        envelope = json.loads(task.body)
        payload = envelope["payload"]
        key = next(iter(task.uploads), "")
        if variant == 0:
            del payload["userId"]
            task.expect_code, task.note = "INVALID_PAYLOAD", "no userId"
        elif variant == 1:
            payload["s3Key"] = 12345
            task.expect_code, task.note = "INVALID_PAYLOAD", "s3Key is a number"
        elif variant == 2:
            envelope["payload"] = ["not", "an", "object"]
            task.expect_code, task.note = "INVALID_PAYLOAD", "payload is a list"
        elif variant == 3:
            task.uploads = {}
            task.expect_code, task.note = "INPUT_NOT_FOUND", "prefix holds nothing"
        elif variant == 4:
            other = next(u for u in self.rng.sample(self.users, 2) if u != user)
            batch = json.loads(task.uploads[key])
            batch["userId"] = other
            task.uploads[key] = json.dumps(batch, ensure_ascii=False).encode()
            task.expect_code, task.note = "INVALID_INPUT", "batch of another user"
        elif variant == 5:
            task.uploads[key] = b'{"hello": "not a graph"}'
            task.expect_code, task.note = "INVALID_INPUT", "not a graph"
        elif variant == 6:
            task.uploads[key] = b"[]"
            task.expect_code, task.note = "INVALID_INPUT", "empty history"
        else:
            task.uploads = {}
            task.expect_code, task.note = "INPUT_NOT_FOUND", "batch missing"
        task.kind, task.body, task.items = "invalid", json.dumps(envelope, ensure_ascii=False), set()
        return task

    def poison(self) -> Task:
        """A body that cannot be read or routed: answered FAILED, dead-lettered."""
        self.serial += 1
        tag = f"poison{self.serial:05d}"
        variant = self.variant("poison", 9)
        task_id, code = "", "INVALID_JSON"  # answered under the SQS message id
        if variant == 0:
            body, note = f"this is not json {tag}", "plain text"
        elif variant == 1:
            body, note = '{"taskId": "' + tag + '", "taskType": ', "truncated JSON"
        elif variant == 2:
            body, note = "AAEC" + tag + "==", "base64 of garbage"
        elif variant == 3:
            body, note = json.dumps([tag, 1, 2]), "a JSON array"
        elif variant == 4:
            depth = 100_000
            body = '{"taskType": "GRAPH_GENERATION_REQUEST", "payload": ' + "[" * depth + "]" * depth + "}"
            note = "nested 100k deep"
        elif variant == 5:
            body, note = json.dumps({"hello": tag}), "object without taskType"
            code = "UNKNOWN_TASK_TYPE"
        elif variant == 6:
            task_id, code, note = f"micro_{tag}", "UNKNOWN_TASK_TYPE", "MICROSCOPE_* taskType"
            body = json.dumps(
                {"taskId": task_id, "taskType": "MICROSCOPE_INGEST_REQUEST", "payload": {"userId": "u"}}
            )
        elif variant == 7:
            task_id, code, note = f"task_{tag}", "UNKNOWN_TASK_TYPE", "'type' instead of taskType"
            body = json.dumps({"taskId": task_id, "type": "GRAPH_GENERATION_REQUEST", "payload": {}})
        else:
            task_id, code, note = f"task_{tag}", "UNKNOWN_TASK_TYPE", "no taskType"
            body = json.dumps({"taskId": task_id, "payload": {"userId": "u"}})
        return Task(
            kind="poison",
            task_type="",
            task_id=task_id,
            user_id="unknown",
            body=body,
            expect_code=code,
            dead_letter=True,
            note=note,
        )
