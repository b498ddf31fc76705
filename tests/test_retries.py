"""Retry policy on the SQS broker: transient failures are retried, and when the retries are spent the
task is answered FAILED exactly once and its request goes to the dead-letter queue.

The worker's own broker, middleware and decoding run in-process against a real SQS-protocol server,
with one test actor that always fails transiently (one retry, 1 s backoff, to keep the test short).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import dramatiq
import pytest

from actors.broker import build_broker
from adapters.sinks import MemorySink
from cli.local import create_queues
from core.errors import PermanentError, TransientError
from core.services import Services
from core.settings import Settings

from servers import REGION, aws_client, moto_server, queue_depth, wait_for


@pytest.fixture
def sqs_worker_parts() -> Iterator[dict[str, Any]]:
    """An SQS broker built like production's (the global encoder is restored afterwards)."""
    previous_encoder = dramatiq.get_encoder()
    previous_broker = dramatiq.get_broker()
    with moto_server() as endpoint:
        base = Settings(AWS_ENDPOINT_URL=endpoint, AWS_REGION=REGION)  # type: ignore[call-arg]
        urls = create_queues(base, prefix="retries", max_receive_count=5)
        settings = Settings(BROKER="sqs", AWS_ENDPOINT_URL=endpoint, AWS_REGION=REGION, **urls)  # type: ignore[arg-type]
        sink = MemorySink()
        broker = build_broker(settings, Services(settings, sink=sink))
        calls: list[int] = []

        def always_transient(payload: dict[str, Any], task_id: str) -> None:
            calls.append(1)
            raise TransientError("the vector store is unavailable")

        dramatiq.actor(
            always_transient,
            broker=broker,
            actor_name="always_transient",
            queue_name="default",
            task_type="TEST_TRANSIENT_REQUEST",
            throws=(PermanentError,),
            max_retries=1,
            min_backoff=1000,
            max_backoff=1000,
        )
        worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=1000)
        worker.start()
        try:
            yield {"urls": urls, "sink": sink, "calls": calls, "sqs": aws_client("sqs", endpoint)}
        finally:
            worker.stop()
            broker.close()
            dramatiq.set_encoder(previous_encoder)
            dramatiq.set_broker(previous_broker)


def test_spent_retries_answer_once_and_dead_letter(sqs_worker_parts: dict[str, Any]) -> None:
    parts = sqs_worker_parts
    body = json.dumps(
        {"taskId": "task_retry_1", "taskType": "TEST_TRANSIENT_REQUEST", "payload": {"userId": "u-r"}}
    )
    parts["sqs"].send_message(QueueUrl=parts["urls"]["SQS_REQUEST_QUEUE_URL"], MessageBody=body)
    sink: MemorySink = parts["sink"]
    answers = wait_for(lambda: [e for e in sink.envelopes if e["taskId"] == "task_retry_1"], 60)
    wait_for(lambda: queue_depth(parts["sqs"], parts["urls"]["SQS_REQUEST_QUEUE_URL"]) == 0, 30)
    assert len(parts["calls"]) == 2  # the first attempt and one retry
    (answer,) = answers
    assert answer["payload"]["status"] == "FAILED" and answer["payload"]["errorCode"] == "TRANSIENT"
    assert answer["payload"]["userId"] == "u-r"
    dead = parts["sqs"].receive_message(
        QueueUrl=parts["urls"]["SQS_DEAD_LETTER_QUEUE_URL"], MaxNumberOfMessages=10, WaitTimeSeconds=2
    )["Messages"]
    assert len(dead) == 1
    retried = json.loads(base64.b64decode(dead[0]["Body"]))  # the retry travelled as a Dramatiq message
    assert retried["options"]["envelope"]["taskId"] == "task_retry_1"
