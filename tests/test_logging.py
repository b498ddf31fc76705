"""Every log line of a message carries its correlation context; nothing carries over; no secrets."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from core import context
from core.logs import redact_text

from helpers import answers, example

Run = Callable[[bytes | dict[str, Any]], list[dict[str, Any]]]


def test_lines_of_a_message_carry_its_context(
    run_raw: Run, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    body = example("request_graph_generation.json")
    body["taskId"] = "task_user-log_01"
    body["payload"].update({"userId": "user-log", "s3Key": "graph-generation/absent/"})
    (answer,) = answers(run_raw(body))
    assert answer["payload"]["errorCode"] == "INPUT_NOT_FOUND"
    lines = [line for line in log_lines() if line.get("messageId")]
    loggers = {line["logger"] for line in lines}
    assert {"middleware.results", "dramatiq.worker.WorkerThread"} <= loggers
    for line in lines:
        assert line["correlationId"] == "task_user-log_01"
        assert line["taskType"] == "GRAPH_GENERATION_REQUEST"
        assert line["userId"] == "user-log" and line["actor"] == "generate_graph" and line["attempt"] == 1
    assert context.current() == {}


def test_context_does_not_carry_over(run_raw: Run, log_lines: Callable[[], list[dict[str, Any]]]) -> None:
    first = example("request_graph_generation.json")
    first["taskId"], first["payload"]["s3Key"] = "task_first", "graph-generation/absent-1/"
    second = {"taskId": "task_second", "taskType": "MICROSCOPE_X", "payload": {}}
    run_raw(first)
    run_raw(second)
    second_lines = [line for line in log_lines() if line.get("correlationId") == "task_second"]
    assert second_lines and all("userId" not in line for line in second_lines)


def test_secrets_never_reach_logs_or_answers(
    run_raw: Run, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    body = example("request_add_node.json")
    body["taskType"] = "GRAPH_GENERATION_REQUEST"
    body["payload"]["s3Key"] = "graph-generation/absent-secret/"
    body["payload"]["internalServiceToken"] = "secret-token-value"
    published = run_raw(body)
    rendered = json.dumps(log_lines())
    assert "secret-token-value" not in rendered and "[redacted]" in rendered
    assert "secret-token-value" not in json.dumps(published)


def test_redaction_of_text() -> None:
    text = "generate_graph({'internalServiceToken': 'tok', 'userId': 'u'}) https://key@o1.ingest.sentry.io/1"
    redacted = redact_text(text)
    assert "tok'" not in redacted and "key@" not in redacted and "'userId': 'u'" in redacted
