"""Operations in-process (StubBroker): audit events, Sentry events, metrics, ECS task protection,
the liveness file and the visibility heartbeat's bound."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dramatiq
import pytest
import sentry_sdk
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from actors import broker as stub_broker
from actors.broker import install_sentry_scope
from actors.graph_generation import generate_graph
from brokers.visibility import Held, VisibilityHeartbeat
from core.audit import audit_calls, audited
from core.context import CONTEXT_KEYS
from core.sentry import init_sentry
from core.settings import Settings
from middleware import metrics
from middleware.liveness import Liveness, is_fresh
from middleware.metrics import TaskMetrics
from middleware.task_protection import TaskProtection
from test_lifecycle import EcsAgent

from helpers import EXAMPLES, answers, example

Run = Callable[[bytes | dict[str, Any]], list[dict[str, Any]]]
Lines = Callable[[], list[dict[str, Any]]]


class CollectingTransport(Transport):
    """Keeps every envelope Sentry would send."""

    def __init__(self) -> None:
        super().__init__()
        self.envelopes: list[Envelope] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)

    def items(self, kind: str) -> list[dict[str, Any]]:
        return [
            item.payload.json
            for envelope in self.envelopes
            for item in envelope.items
            if item.type == kind and item.payload.json is not None
        ]


@pytest.fixture
def sentry_events() -> Iterator[CollectingTransport]:
    """Sentry initialised as the worker does it, events kept in memory; the stub broker gets the
    integration's middleware and ours for the test."""
    transport = CollectingTransport()
    settings = Settings(SENTRY_DSN="https://public@o1.ingest.sentry.io/1", SENTRY_TRACES_SAMPLE_RATE=1.0)  # type: ignore[call-arg]
    assert init_sentry(settings, transport=transport)
    saved = list(stub_broker.middleware)
    install_sentry_scope(stub_broker)
    try:
        yield transport
    finally:
        sentry_sdk.flush()
        stub_broker.middleware[:] = saved
        sentry_sdk.init()  # no DSN: Sentry off again


def graph_request(task_id: str, prefix: str, **payload: Any) -> dict[str, Any]:
    body = example("request_graph_generation.json")
    body["taskId"] = task_id
    body["payload"].update({"s3Key": prefix, "includeSummary": False, **payload})
    return body


def test_audit_of_outside_calls_and_stages_with_context_on_every_line(
    run_raw: Run, log_lines: Lines, upload: Callable[[str, Any], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    for path in (EXAMPLES / "bundle").iterdir():
        upload("graph-generation/ops-good/" + path.name, path.read_bytes())
    task_metrics = TaskMetrics()
    task_metrics.after_process_boot(stub_broker)
    monkeypatch.setattr(metrics, "_installed", task_metrics)
    body = graph_request("task_user-ops_GOOD", "graph-generation/ops-good/", userId="user-ops")
    (answer,) = answers(run_raw(body))
    assert answer["payload"]["status"] == "COMPLETED"

    lines = log_lines()
    first = next(i for i, line in enumerate(lines) if line.get("correlationId") == body["taskId"])
    last = max(i for i, line in enumerate(lines) if line.get("event") == "task.answered")
    during = lines[first : last + 1]
    assert {line["logger"] for line in during} >= {"core.audit", "middleware.results"}
    for line in during:  # every line while the message runs, ours and the libraries' alike
        assert all(key in line for key in CONTEXT_KEYS), line
        assert line["correlationId"] == body["taskId"] and line["userId"] == "user-ops"

    audits = [line for line in during if line["logger"] == "core.audit"]
    done = {(a["kind"], a["name"]) for a in audits if a["event"] == "audit.success"}
    assert {("blob_store", "list_keys"), ("blob_store", "get"), ("blob_store", "put")} <= done
    assert {("vector_store", "upsert"), ("result_sink", "publish")} <= done
    assert {("stage", f"stage{n}") for n in range(1, 6)} <= done
    assert not [a for a in audits if a["event"] == "audit.start"]  # DEBUG: one INFO line per call
    assert all(a["duration_ms"] >= 0 for a in audits if a["event"] == "audit.success")

    registry = task_metrics.registry
    labels = {"task_type": "GRAPH_GENERATION_REQUEST", "status": "COMPLETED", "error_code": ""}
    assert registry.get_sample_value("ai_worker_answers_total", labels) == 1
    for stage in range(1, 6):
        stage_labels = {
            "task_type": "GRAPH_GENERATION_REQUEST",
            "stage": f"stage{stage}",
            "outcome": "success",
        }
        assert registry.get_sample_value("ai_worker_stage_duration_seconds_count", stage_labels) == 1

    run_raw(graph_request("task_user-ops_MISSING", "graph-generation/ops-nothing/"))
    failed = {"task_type": "GRAPH_GENERATION_REQUEST", "status": "FAILED", "error_code": "INPUT_NOT_FOUND"}
    assert registry.get_sample_value("ai_worker_answers_total", failed) == 1


def test_audit_error_is_typed_redacted_and_raised(log_lines: Lines) -> None:
    class Store:
        def get(self, key: str) -> bytes:
            raise ConnectionError("https://AKIA:hunter2@s3.example/x?X-Amz-Signature=abc123")

    store = audit_calls(Store(), "blob_store", ["get"])
    assert isinstance(store, Store)
    with pytest.raises(ConnectionError):
        store.get("k")
    with pytest.raises(ValueError), audited("llm", "complete_json"):
        raise ValueError("api_key=sk-live-123")
    errors = [line for line in log_lines() if line["event"] == "audit.error"]
    assert [(e["kind"], e["error_type"]) for e in errors] == [
        ("blob_store", "ConnectionError"),
        ("llm", "ValueError"),
    ]
    rendered = json.dumps(errors)
    assert "hunter2" not in rendered and "abc123" not in rendered and "sk-live-123" not in rendered


def test_unexpected_error_reaches_sentry_once_with_the_correlation_id_of_its_logs(
    run_raw: Run,
    log_lines: Lines,
    sentry_events: CollectingTransport,
    services: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(prefix: str, bucket: str | None = None) -> list[str]:
        raise RuntimeError("storage exploded; token=tok-abc at https://u:pw@host/x?X-Amz-Signature=sig")

    monkeypatch.setitem(generate_graph.options, "max_retries", 0)
    monkeypatch.setattr(services.blobs, "list_keys", broken)
    body = graph_request("task_user-sentry_BOOM", "graph-generation/boom/", userId="user-sentry")
    body["payload"]["internalServiceToken"] = "-".join(["service", "token", "value"])  # not in source context
    (answer,) = answers(run_raw(body))
    assert answer["payload"]["errorCode"] == "INTERNAL"
    sentry_sdk.flush()

    events = sentry_events.items("event")
    assert len(events) == 1, events  # the integration's capture only, not the worker's error log too
    (event,) = events
    assert event["tags"]["correlationId"] == body["taskId"]
    assert event["tags"]["taskType"] == "GRAPH_GENERATION_REQUEST"
    assert event["user"]["id"] == "user-sentry"
    assert event["exception"]["values"][-1]["type"] == "RuntimeError"
    rendered = json.dumps(sentry_events.items("event") + sentry_events.items("transaction"))
    for secret in ("tok-abc", ":pw@", "=sig", "service-token-value"):
        assert secret not in rendered, rendered[rendered.index(secret) - 400 : rendered.index(secret) + 50]

    logged = {line["correlationId"] for line in log_lines() if "correlationId" in line}
    assert logged == {event["tags"]["correlationId"]}

    transactions = [
        t for t in sentry_events.items("transaction") if t["tags"].get("correlationId") == body["taskId"]
    ]
    (transaction,) = transactions
    assert transaction["transaction"] == "GRAPH_GENERATION_REQUEST"
    assert [span["op"] for span in transaction["spans"]] == ["queue.process"]
    assert transaction["spans"][0]["status"] == "internal_error"


def test_bad_input_is_answered_but_not_reported(run_raw: Run, sentry_events: CollectingTransport) -> None:
    (answer,) = answers(run_raw(graph_request("task_user-sentry_BAD", "graph-generation/none-here/")))
    assert answer["payload"]["errorCode"] == "INPUT_NOT_FOUND"
    (answer,) = answers(run_raw(b"not json at all"))
    assert answer["payload"]["errorCode"] == "INVALID_JSON"
    sentry_sdk.flush()
    assert sentry_events.items("event") == []
    names = {t["transaction"] for t in sentry_events.items("transaction")}
    assert "GRAPH_GENERATION_REQUEST" in names


def test_task_protection_follows_the_work_and_survives_a_broken_agent(
    run_raw: Run, agent: EcsAgent, log_lines: Lines
) -> None:
    protection = TaskProtection(agent.uri, expires_minutes=30)
    stub_broker.middleware.append(protection)
    try:
        run_raw(graph_request("task_user-ecs_1", "graph-generation/none/"))
        assert [(c["ProtectionEnabled"], c.get("ExpiresInMinutes")) for c in agent.calls] == [
            (True, 30),
            (False, None),
        ]
        assert {c["path"] for c in agent.calls} == {"/v3/task-id/task-protection/v1/state"}
        protection.url = "http://127.0.0.1:9/task-protection/v1/state"  # nothing listens there
        (answer,) = answers(run_raw(graph_request("task_user-ecs_2", "graph-generation/none/")))
        assert answer["payload"]["errorCode"] == "INPUT_NOT_FOUND"  # answered all the same
        failures = [line["enabled"] for line in log_lines() if line["event"] == "ecs.protection_failed"]
        assert failures == [True]  # logged, not raised; nothing to give up after a failed request
        protection.before_worker_shutdown(stub_broker, None)  # type: ignore[arg-type]
    finally:
        stub_broker.middleware.remove(protection)


@pytest.fixture
def agent() -> Iterator[EcsAgent]:
    server = EcsAgent()
    yield server
    server.close()


def test_liveness_file_follows_the_consumers(tmp_path: Path) -> None:
    path = tmp_path / "alive"
    broker = dramatiq.get_broker()
    liveness = Liveness(path, interval=0.1, stale_after=1.0)
    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=100)
    worker.start()
    try:
        liveness.after_worker_boot(broker, worker)
        assert_soon(lambda: is_fresh(path, 1.0))
        for thread in worker.consumers.values():
            thread.consumer.last_poll = time.monotonic() - 5  # type: ignore[union-attr]  # a stuck consumer
        path.unlink()
        time.sleep(0.5)
        assert not path.exists() or not is_fresh(path, 0.3)
    finally:
        liveness.before_worker_shutdown(broker, worker)
        worker.stop()
    assert not path.exists()


def assert_soon(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_heartbeat_extends_held_messages_within_their_bound() -> None:
    calls: list[dict[str, Any]] = []

    class Client:
        def change_message_visibility_batch(self, **request: Any) -> dict[str, Any]:
            calls.append(request)
            return {"Successful": [{"Id": e["Id"]} for e in request["Entries"]]}

    now = [1000.0]
    heartbeat = VisibilityHeartbeat(Client(), "http://q", 30, clock=lambda: now[0])
    assert heartbeat.interval == 10
    heartbeat.hold(Held("r1", "m1", limit=100, received=now[0]))
    heartbeat.hold(Held("r2", "m2", limit=100, received=now[0]))
    heartbeat.started("r1")
    heartbeat.beat()
    assert [(e["ReceiptHandle"], e["VisibilityTimeout"]) for e in calls[-1]["Entries"]] == [
        ("r1", 30),
        ("r2", 30),
    ]
    now[0] += 150  # past the bound: a stuck task no longer holds its message
    heartbeat.beat()
    assert heartbeat.holding() == []
    heartbeat.hold(Held("r3", "m3", limit=100, received=now[0]))
    assert heartbeat.release(heartbeat.holding()) == 1
    assert calls[-1]["Entries"][0]["VisibilityTimeout"] == 0 and heartbeat.holding() == []
