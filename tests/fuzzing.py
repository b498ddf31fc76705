"""Hypothesis strategies for hostile and broken request bodies, and the bookkeeping that checks every
body sent through a broker was handled: answered once, or dead-lettered.

Bodies are the backend's envelopes (valid, mutated, or of the wrong types), Dramatiq-shaped messages
(valid, forged or broken), and raw bytes (not UTF-8, not JSON, deeply nested, lone surrogates,
``NaN``, numbers too large). Many carry ``SECRET`` as an ``internalServiceToken``: it must appear in
no answer and no log line.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import dramatiq
from hypothesis import strategies as st

from actors import broker as stub_broker
from actors.broker import build_broker
from adapters.sinks import MemorySink
from core.services import Services
from core.settings import Settings
from middleware.envelope import message_id_for, usable_task_id

#: The secret every hostile body may carry.
SECRET = "fz-secret-6b1f0c2a9e"
TASK_TYPES = ["GRAPH_GENERATION_REQUEST", "ADD_NODE_REQUEST", "GRAPH_SUMMARY_REQUEST"]
ACTORS = ["generate_graph", "add_node", "graph_summary", "reject_envelope"]
OPTION_NAMES = [
    "envelope", "retries", "max_retries", "min_backoff", "max_backoff", "time_limit", "eta", "throws",
    "retry_when", "pipe_target", "on_success", "traceback", "redis_message_id", "failure", "x",
]  # fmt: skip
ODD_KEYS = [
    "graph-generation/none/", "../../etc/passwd", "/", "//", ".", "a/../b/", "add-node/x/batch.json",
    "results/", "a\x00b", "graph-generation/none/input.json", "\u202e/evil/", "%2e%2e/x", "a//b/",
]  # fmt: skip

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)
short_text = st.text(max_size=40)
keys = st.sampled_from(ODD_KEYS) | short_text | values
payload_fields = st.fixed_dictionaries(
    {},
    optional={
        "userId": st.sampled_from(["u-fuzz", "", " ", "../u", "u\x00"]) | short_text | values,
        "s3Key": keys,
        "graphS3Key": keys,
        "extraS3Keys": st.lists(keys, max_size=3) | values,
        "bucket": st.none() | short_text | values,
        "language": st.sampled_from(["ko", "en", "zh", "xx", ""]) | values,
        "summaryLanguage": st.sampled_from(["ko", "en"]) | values,
        "minClusters": st.integers(-5, 500) | values,
        "maxClusters": st.integers(-5, 500) | values,
        "numClusters": st.integers(-5, 500) | values,
        "includeSummary": st.booleans() | values,
        "inputType": st.sampled_from(["auto", "chatgpt", "notes"]) | values,
        "chatId": short_text | values,
        "internalServiceToken": st.just(SECRET),
    },
)
payloads = payload_fields | values
task_ids = st.text(min_size=1, max_size=40) | st.integers() | st.just("") | values
envelopes = st.fixed_dictionaries(
    {"taskType": st.sampled_from([*TASK_TYPES, "MICROSCOPE_INGEST_REQUEST", ""]) | short_text | values},
    optional={
        "taskId": task_ids,
        "payload": payloads,
        "timestamp": short_text | values,
        "type": st.sampled_from(TASK_TYPES),
        "internalServiceToken": st.just(SECRET),
        "actor_name": st.sampled_from(ACTORS),
    },
)
option_values = (
    st.fixed_dictionaries({"taskId": task_ids, "taskType": st.sampled_from([*TASK_TYPES, None]) | values})
    | values
)
dramatiq_bodies = st.fixed_dictionaries(
    {"actor_name": st.sampled_from(ACTORS) | short_text, "message_id": short_text | values},
    optional={
        "queue_name": st.sampled_from(["default", "default.DQ", "default.XQ", "other"]) | values,
        "args": st.lists(payloads, max_size=3) | values,
        "kwargs": st.dictionaries(
            st.sampled_from(["task_id", "code", "error", "size", "x"]), values, max_size=4
        )
        | values,
        "options": st.dictionaries(st.sampled_from(OPTION_NAMES), option_values, max_size=4) | values,
        "message_timestamp": st.integers() | values,
        "extra": values,
    },
)


def nested(depth: int, opener: str, closer: str, leaf: str = "1") -> bytes:
    """An object or array nested ``depth`` levels deep."""
    return (opener * depth + leaf + closer * depth).encode()


raw_bodies = st.one_of(
    st.binary(max_size=64),
    st.text(max_size=64).map(lambda text: text.encode()),
    st.integers(1, 5000).map(lambda depth: nested(depth, '{"a":', "}")),
    st.integers(1, 5000).map(lambda depth: nested(depth, "[", "]")),
    st.integers(1, 5000).map(lambda depth: b'{"taskId":"t","taskType":"X","payload":' + nested(depth, "[", "]") + b"}"),
    st.sampled_from(
        [
            b"", b"null", b"[]", b"{}", b'"text"', b"NaN", b'{"x": NaN}', b'{"x": 1e999}', b"9" * 5000,
            b'{"taskId": "t", "taskType": "GRAPH_GENERATION_REQUEST", "payload": {"userId": "\\ud800"}}',
            b'{"taskId": "\\udfff", "taskType": "ADD_NODE_REQUEST"}', b"\xff\xfe{}", b"\xed\xa0\x80",
            b'{"taskId": "t", "taskType": "GRAPH_GENERATION_REQUEST"', b"{\x00}",
        ]
    ),
)  # fmt: skip


@st.composite
def bodies(draw: st.DrawFn) -> bytes | dict[str, Any]:
    """One body: an envelope or a Dramatiq-shaped message (as a dict), or raw bytes."""
    kind = draw(st.sampled_from(["envelope", "envelope", "dramatiq", "raw"]))
    if kind == "raw":
        body: bytes = draw(raw_bodies)
        return body
    shaped: dict[str, Any] = draw(envelopes if kind == "envelope" else dramatiq_bodies)
    if draw(st.booleans()) and isinstance(shaped.get("payload"), dict):
        shaped["payload"]["internalServiceToken"] = SECRET
    return shaped


def encode(body: bytes | dict[str, Any], ascii_only: bool = True) -> bytes:
    """A body as bytes on the wire."""
    if isinstance(body, bytes):
        return body
    return json.dumps(body, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


@dataclass
class Sent:
    """One body sent in a fuzz batch and the ids its answer or dead letter may carry."""

    wire: bytes
    task_ids: set[str] = field(default_factory=set)
    message_ids: set[str] = field(default_factory=set)
    answered: int = 0
    dead: bool = False


def tag(body: bytes | dict[str, Any], n: int) -> Sent:
    """Make ``body``'s ids unique in its batch (so that answers can be matched) and note them."""
    sent = Sent(b"")
    if isinstance(body, dict):
        unique = f"fz{n}-{uuid.uuid4().hex[:8]}"
        if isinstance(body.get("taskId"), str) and body["taskId"]:
            body["taskId"] = f"{unique}-{body['taskId']}"
        elif isinstance(body.get("taskId"), int | float) and not isinstance(body.get("taskId"), bool):
            body["taskId"] = uuid.uuid4().int % 10**15
        if isinstance(body.get("message_id"), str):
            body["message_id"] = f"{unique}-m"
            sent.message_ids.add(body["message_id"])
            sent.task_ids.add(body["message_id"])  # a message without a taskId is answered under its id
        envelope = body.get("options", {}).get("envelope") if isinstance(body.get("options"), dict) else None
        if isinstance(envelope, dict) and isinstance(envelope.get("taskId"), str) and envelope["taskId"]:
            envelope["taskId"] = f"{unique}-e-{envelope['taskId']}"
        for candidate in (body.get("taskId"), envelope.get("taskId") if isinstance(envelope, dict) else None):
            if (task_id := usable_task_id(candidate)) is not None:
                sent.task_ids.add(task_id)
                sent.message_ids.add(message_id_for(task_id))
    sent.wire = encode(body, ascii_only=n % 2 == 0)
    return sent


def sqs_wire(sent: Sent, n: int) -> str:
    """The body as the SQS queue carries it: text SQS accepts; a Dramatiq message as base64 or JSON."""
    text = sent.wire.decode("utf-8", "replace")
    text = "".join(
        c for c in text if c in "\t\n\r" or " " <= c <= "\ud7ff" or "\ue000" <= c <= "\ufffd" or c > "\uffff"
    )
    if b'"actor_name"' in sent.wire and n % 2:
        return base64.b64encode(text.encode()).decode()
    return text or " "


@dataclass
class Ledger:
    """Matches answers and dead letters to the bodies of one batch."""

    sent: list[Sent]
    unmatched: list[dict[str, Any]] = field(default_factory=list)

    def answer(self, envelope: dict[str, Any]) -> None:
        """Count one answer against the body whose id it carries."""
        for sent in self.sent:
            if envelope["taskId"] in sent.task_ids:
                sent.answered += 1
                return
        self.unmatched.append(envelope)

    def dead_letter(self, message_id: str) -> None:
        """Count one dead letter against the body whose message id it carries."""
        for sent in self.sent:
            if message_id in sent.message_ids:
                sent.dead = True
                return

    def check(self) -> None:
        """Every body answered at most once, and answered or dead-lettered; no answer beyond one a body.

        Bodies without a usable id are answered under a fresh one (``unmatched``): there must be at
        least one such answer for each body neither matched nor dead-lettered, and no more answers in
        all than bodies.
        """
        assert all(sent.answered <= 1 for sent in self.sent), [
            s.wire[:200] for s in self.sent if s.answered > 1
        ]
        matched = sum(sent.answered for sent in self.sent)
        unhandled = [sent for sent in self.sent if not sent.answered and not sent.dead]
        assert len(unhandled) <= len(self.unmatched) <= len(self.sent) - matched, (
            [s.wire[:200] for s in unhandled],
            [u["taskId"] for u in self.unmatched],
        )


@contextmanager
def worker_on(
    settings: Settings, **broker_attributes: Any
) -> Iterator[tuple[dramatiq.Broker, MemorySink, dramatiq.Worker]]:
    """The real actors on a broker built like production's from ``settings``; encoder and global broker
    restored afterwards."""
    previous_encoder, previous_broker = dramatiq.get_encoder(), dramatiq.get_broker()
    sink = MemorySink()
    broker = build_broker(settings, Services(settings, sink=sink))
    for name, value in broker_attributes.items():
        setattr(broker, name, value)
    for name in stub_broker.get_declared_actors():
        actor = stub_broker.get_actor(name)
        dramatiq.Actor(
            actor.fn,
            broker=broker,
            actor_name=name,
            queue_name=actor.queue_name,
            priority=actor.priority,
            options=actor.options,
        )
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=100)
    worker.start()
    try:
        yield broker, sink, worker
    finally:
        worker.stop()
        broker.close()
        dramatiq.set_encoder(previous_encoder)
        dramatiq.set_broker(previous_broker)
