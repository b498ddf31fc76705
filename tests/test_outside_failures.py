"""Outside failures are audited and retried.

A vector store that is down is a transient fault: the graph task retries with backoff, every failed
call (the connection included) is audited with the task's correlation context, and only when the
retries are spent does the graph stand without its vectors (COMPLETED, ``error`` set).

Chroma is real: a port nobody listens on, and a ``chroma run`` server stopped and started again.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dramatiq
import pytest

from actors import broker
from actors.broker import QUEUE
from actors.graph_generation import generate_graph
from adapters.llm import llm_from_settings
from adapters.sinks import MemorySink
from core import context
from core.services import Services, build_sink
from core.settings import Settings
from middleware.envelope import message_id_for

from helpers import EXAMPLES, answers
from servers import chroma_server, free_port

Lines = Callable[[], list[dict[str, Any]]]


def use_chroma_server(monkeypatch: pytest.MonkeyPatch, services: Any, port: int) -> None:
    """Point the worker's vector store at a Chroma server on ``port`` (connected on next use)."""
    settings = services.settings.model_copy(update={"chroma_host": "127.0.0.1", "chroma_port": port})
    monkeypatch.setattr(services, "settings", settings)
    monkeypatch.delitem(services.__dict__, "vectors", raising=False)


def send_graph_task(
    services: Any, stub_worker: dramatiq.Worker, task_id: str, *, retries: int, backoff_ms: int
) -> list[dict[str, Any]]:
    """Upload the example bundle and run one graph task with a short retry policy; its answers."""
    prefix = f"graph-generation/{task_id}/"
    for path in (EXAMPLES / "bundle").iterdir():
        services.blobs.put(prefix + path.name, path.read_bytes())
    sink = services.sink
    assert isinstance(sink, MemorySink)
    payload = {"userId": f"user-{task_id}", "s3Key": prefix, "includeSummary": False, "language": "en"}
    envelope = {"taskId": task_id, "taskType": "GRAPH_GENERATION_REQUEST", "timestamp": None}
    generate_graph.send_with_options(
        args=(payload,),
        kwargs={"task_id": task_id},
        message_id=message_id_for(task_id),
        envelope=envelope,
        max_retries=retries,
        min_backoff=backoff_ms,
        max_backoff=backoff_ms,
    )
    broker.join(QUEUE, fail_fast=False)  # type: ignore[attr-defined]
    stub_worker.join()
    return [e for e in answers(sink.envelopes) if e["taskId"] == task_id]


def audit_errors(lines: list[dict[str, Any]], task_id: str) -> list[dict[str, Any]]:
    return [
        line
        for line in lines
        if line["event"] == "audit.error"
        and line.get("kind") == "vector_store"
        and line.get("correlationId") == task_id
    ]


def test_unreachable_store_is_retried_then_the_graph_stands_without_vectors(
    monkeypatch: pytest.MonkeyPatch, services: Any, stub_worker: dramatiq.Worker, log_lines: Lines
) -> None:
    use_chroma_server(monkeypatch, services, free_port())  # nobody listens there
    (answer,) = send_graph_task(services, stub_worker, "task_outage_1", retries=2, backoff_ms=50)
    payload = answer["payload"]
    assert payload["status"] == "COMPLETED" and payload["errorCode"] is None
    assert payload["error"].startswith("vector indexing failed after retries")
    assert json.loads(services.blobs.get(payload["resultS3Key"]))["nodes"]  # the graph stands
    lines = log_lines()
    failed = audit_errors(lines, "task_outage_1")
    assert [(line["name"], line["attempt"]) for line in failed] == [
        ("connect", 1),
        ("connect", 2),
        ("connect", 3),
    ]
    assert all(line["userId"] == "user-task_outage_1" and line["duration_ms"] >= 0 for line in failed)
    retried = [line for line in lines if line["event"] == "task.retry_scheduled"]
    assert [line["correlationId"] for line in retried] == ["task_outage_1", "task_outage_1"]


def test_store_that_comes_back_gets_the_vectors(
    monkeypatch: pytest.MonkeyPatch,
    services: Any,
    stub_worker: dramatiq.Worker,
    log_lines: Lines,
    tmp_path: Path,
) -> None:
    with chroma_server(tmp_path / "chroma") as port:
        use_chroma_server(monkeypatch, services, port)
        assert services.vectors.count() == 0  # connected while the server runs
    restarted: list[Any] = []
    stop = threading.Event()

    def restart_after_first_failure() -> None:  # the outage ends while the task waits to retry
        while not stop.is_set() and not audit_errors(log_lines(), "task_outage_2"):
            time.sleep(0.05)
        if not stop.is_set():
            server = chroma_server(tmp_path / "chroma", port)
            server.__enter__()
            restarted.append(server)

    thread = threading.Thread(target=restart_after_first_failure, daemon=True)
    thread.start()
    try:
        (answer,) = send_graph_task(services, stub_worker, "task_outage_2", retries=5, backoff_ms=4000)
        assert answer["payload"]["status"] == "COMPLETED" and answer["payload"]["error"] is None
        assert services.vectors.count("user-task_outage_2") > 0
    finally:
        stop.set()
        thread.join()
        for server in restarted:
            server.__exit__(None, None, None)
    failed = audit_errors(log_lines(), "task_outage_2")
    assert failed and {line["name"] for line in failed} <= {"upsert", "upsert_clusters"}
    assert failed[0]["attempt"] == 1


def test_clients_that_cannot_be_built_are_audited_with_the_context(log_lines: Lines) -> None:
    """Building the S3 client, the SQS result sink and the LLM client fails on a bad endpoint: each
    failure is an ``audit.error`` of ``connect`` carrying the message's correlation context."""
    settings = Settings(  # type: ignore[call-arg]
        BROKER="sqs",
        SQS_REQUEST_QUEUE_URL="http://127.0.0.1:1/q",
        SQS_RESULT_QUEUE_URL="http://127.0.0.1:1/r",
        AWS_ENDPOINT_URL="not a url",
        S3_PAYLOAD_BUCKET="bucket",
        LLM_BASE_URL="http://[::1",
        LLM_API_KEY="sk-never-logged",
        LLM_MODEL="m",
    )
    context.bind(correlationId="task_connect_1", taskType="GRAPH_GENERATION_REQUEST", userId="u-c")
    try:
        with pytest.raises(ValueError):
            build_sink(settings)
        with pytest.raises(ValueError):
            _ = Services(settings, sink=MemorySink()).blobs
        assert llm_from_settings(settings) is None  # the task goes on without the LLM
    finally:
        context.clear()
    failed = [line for line in log_lines() if line["event"] == "audit.error"]
    assert {(line["kind"], line["name"]) for line in failed} == {
        ("result_sink", "connect"),
        ("blob_store", "connect"),
        ("llm", "connect"),
    }
    assert all(line["correlationId"] == "task_connect_1" and line["userId"] == "u-c" for line in failed)
    assert "sk-never-logged" not in json.dumps(log_lines())
