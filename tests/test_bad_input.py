"""Every class of bad input is answered exactly once, FAILED with its code, and never retried."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from dramatiq.common import dq_name

from actors import broker
from actors.broker import QUEUE

from helpers import answers, example

Run = Callable[[bytes | dict[str, Any]], list[dict[str, Any]]]


def only_answer(published: list[dict[str, Any]]) -> dict[str, Any]:
    results = answers(published)
    assert len(results) == 1, results
    for queue in (QUEUE, dq_name(QUEUE)):
        assert broker.queues[queue].qsize() == 0  # nothing re-enqueued: never retried
    return results[0]


def graph_request(**payload: Any) -> dict[str, Any]:
    body = example("request_graph_generation.json")
    body["payload"].update(payload)
    return body


def test_invalid_json(run_raw: Run) -> None:
    answer = only_answer(run_raw(b'{"taskId": "t-1", "taskType": '))
    assert answer["taskType"] == "GRAPH_GENERATION_RESULT"
    assert answer["payload"]["status"] == "FAILED" and answer["payload"]["errorCode"] == "INVALID_JSON"
    assert answer["payload"]["userId"] == "unknown" and answer["taskId"]


def test_type_instead_of_task_type(run_raw: Run) -> None:
    body = example("request_add_node.json")
    body["type"] = body.pop("taskType")
    answer = only_answer(run_raw(body))
    assert answer["taskId"] == body["taskId"] and answer["payload"]["errorCode"] == "UNKNOWN_TASK_TYPE"
    assert answer["payload"]["userId"] == "user-7f3a"


def test_unknown_task_type(run_raw: Run) -> None:
    body = {
        "taskId": "micro_1",
        "taskType": "MICROSCOPE_INGEST_REQUEST",
        "payload": {"userId": "u9"},
        "timestamp": "x",
    }
    answer = only_answer(run_raw(body))
    assert answer["taskType"] == "GRAPH_GENERATION_RESULT" and answer["taskId"] == "micro_1"
    assert answer["payload"]["errorCode"] == "UNKNOWN_TASK_TYPE" and answer["payload"]["status"] == "FAILED"


@pytest.mark.parametrize(
    "payload",
    [{"userId": None}, {"s3Key": ""}, {"minClusters": 9, "maxClusters": 2}, {"numClusters": "many"}],
)
def test_invalid_payload(run_raw: Run, payload: dict[str, Any]) -> None:
    body = graph_request(**payload)
    answer = only_answer(run_raw(body))
    assert answer["taskId"] == body["taskId"]
    assert answer["payload"]["errorCode"] == "INVALID_PAYLOAD"
    assert set(answer["payload"]) == set(example("result_graph_generation_failed.json")["payload"])


def test_payload_not_an_object(run_raw: Run) -> None:
    body = graph_request()
    body["payload"] = ["not", "an", "object"]
    assert only_answer(run_raw(body))["payload"]["errorCode"] == "INVALID_PAYLOAD"


def test_missing_prefix_and_missing_object(run_raw: Run) -> None:
    answer = only_answer(run_raw(graph_request(s3Key="graph-generation/nothing-here/")))
    assert (
        answer["payload"]["errorCode"] == "INPUT_NOT_FOUND" and "nothing-here" in answer["payload"]["error"]
    )
    answer = only_answer(run_raw(graph_request(s3Key="graph-generation/none/input.json")))
    assert answer["payload"]["errorCode"] == "INPUT_NOT_FOUND"


def test_input_without_anything_usable(run_raw: Run, upload: Callable[[str, Any], None]) -> None:
    upload("graph-generation/empty/input.json", [])
    upload("graph-generation/empty/files/f1_x.pdf", b"%PDF")
    answer = only_answer(run_raw(graph_request(s3Key="graph-generation/empty/")))
    assert answer["payload"]["errorCode"] == "INVALID_INPUT"


def test_unsafe_key(run_raw: Run) -> None:
    answer = only_answer(run_raw(graph_request(s3Key="../../etc/passwd")))
    assert answer["payload"]["errorCode"] == "INVALID_INPUT"
