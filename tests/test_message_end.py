"""``MessageEnd``: a middleware's per-message state ends once, whether the message ran or was skipped."""

from __future__ import annotations

import dramatiq
from dramatiq.broker import MessageProxy
from dramatiq.brokers.stub import StubBroker

from adapters.sinks import MemorySink
from core import context
from middleware.correlation import Correlation
from middleware.results import ResultPublisher
from models.results import GraphGenerationResult, Status


def envelope_message() -> MessageProxy:
    """A graph generation request as the envelope encoder decodes it."""
    envelope = {"taskId": "task_end", "taskType": "GRAPH_GENERATION_REQUEST", "timestamp": None}
    message: dramatiq.Message[object] = dramatiq.Message(
        queue_name="default",
        actor_name="generate_graph",
        args=({"userId": "user-end"},),
        kwargs={"task_id": "task_end"},
        options={"envelope": envelope},
    )
    return MessageProxy(message)


def test_a_skipped_message_is_not_answered_and_leaves_no_context() -> None:
    broker, sink, message = StubBroker(), MemorySink(), envelope_message()
    correlation, publisher = Correlation(), ResultPublisher(sink)
    correlation.before_process_message(broker, message)
    publisher.before_process_message(broker, message)
    assert context.current()["correlationId"] == "task_end"
    publisher.after_skip_message(broker, message)
    correlation.after_skip_message(broker, message)
    assert sink.envelopes == []
    assert context.current() == {}


def test_a_processed_message_is_answered_once_and_leaves_no_context() -> None:
    broker, sink, message = StubBroker(), MemorySink(), envelope_message()
    correlation, publisher = Correlation(), ResultPublisher(sink)
    correlation.before_process_message(broker, message)
    publisher.before_process_message(broker, message)
    result = GraphGenerationResult(user_id="user-end", status=Status.COMPLETED)
    publisher.after_process_message(broker, message, result=result)
    correlation.after_process_message(broker, message, result=result)
    (answer,) = sink.envelopes
    assert answer["taskId"] == "task_end" and answer["payload"]["status"] == "COMPLETED"
    assert context.current() == {}
