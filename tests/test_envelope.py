"""Envelope decoding: raw backend bodies and Dramatiq messages read from the same queue."""

from __future__ import annotations

import json

import dramatiq

from actors import broker
from actors.broker import QUEUE
from middleware.envelope import REJECT_ACTOR, EnvelopeEncoder, message_id_for

from helpers import example


def encoder() -> EnvelopeEncoder:
    found = dramatiq.get_encoder()
    assert isinstance(found, EnvelopeEncoder)
    return found


def test_backend_envelope_becomes_a_message_for_its_actor() -> None:
    body = example("request_graph_generation.json")
    message = dramatiq.Message.decode(json.dumps(body).encode())
    assert message.actor_name == "generate_graph" and message.queue_name == QUEUE
    assert message.args == (body["payload"],)
    assert message.kwargs == {"task_id": body["taskId"]}
    assert message.options["envelope"]["taskType"] == "GRAPH_GENERATION_REQUEST"
    assert message.message_id == message_id_for(body["taskId"])


def test_redelivery_keeps_the_message_id() -> None:
    raw = json.dumps(example("request_graph_generation.json")).encode()
    assert dramatiq.Message.decode(raw).message_id == dramatiq.Message.decode(raw).message_id


def test_dramatiq_messages_still_decode() -> None:
    message = dramatiq.Message(
        queue_name=QUEUE, actor_name="generate_graph", args=({"a": 1},), kwargs={"task_id": "t"}, options={}
    )
    again = dramatiq.Message.decode(message.encode())
    assert again == message


def test_registry_is_declared_by_the_actors() -> None:
    routes = encoder().routes
    assert routes["GRAPH_GENERATION_REQUEST"] == ("generate_graph", QUEUE)
    assert broker.get_actor("generate_graph").options["task_type"] == "GRAPH_GENERATION_REQUEST"


def _rejection(raw: bytes) -> dramatiq.Message[object]:
    message = dramatiq.Message.decode(raw)
    assert message.actor_name == REJECT_ACTOR
    return message


def test_invalid_json_is_routed_to_rejection() -> None:
    assert _rejection(b"{not json").kwargs["code"] == "INVALID_JSON"
    assert _rejection(b"\xff\xfe").kwargs["code"] == "INVALID_JSON"
    assert _rejection(b"[1, 2]").kwargs["code"] == "INVALID_JSON"


def test_missing_or_unknown_task_type_is_routed_to_rejection() -> None:
    body = example("request_graph_generation.json")
    body["type"] = body.pop("taskType")
    message = _rejection(json.dumps(body).encode())
    assert message.kwargs["code"] == "UNKNOWN_TASK_TYPE"
    assert message.kwargs["task_id"] == body["taskId"]
    assert "'type'" in message.kwargs["error"]
    unknown = _rejection(
        json.dumps({"taskId": "t9", "taskType": "MICROSCOPE_INGEST", "payload": {}}).encode()
    )
    assert unknown.kwargs["code"] == "UNKNOWN_TASK_TYPE" and unknown.kwargs["task_id"] == "t9"
