"""Fuzzing: hypothesis-generated bodies and payloads through decoding, validation and dispatch, on
every broker. There is never an unhandled exception or a dead consumer: always an answer or a dead
letter, and the secret a body carries reaches no answer and no log line.

Bodies per run (``FUZZ_SCALE`` multiplies every figure):

- 3,500 through the shared decoding (``EnvelopeEncoder.decode``) and request validation, directly;
- 2,500 through the SQS consumer's reading of a body (``brokers.sqs.decode_body``), directly;
- 2,500 through the worker on the stub broker (100 batches of 25);
- 1,000 through the worker on Redis (40 batches of 25; a private namespace);
- 500 through the worker on SQS over a moto server (25 batches of 20, so the queue stays shallow).
"""

from __future__ import annotations

import inspect
import io
import json
import logging
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import dramatiq
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from actors import broker as stub_broker
from actors.base import describe_validation_error
from actors.broker import QUEUE
from adapters.sinks import MemorySink
from brokers.sqs import decode_body
from cli.local import create_queues
from core.logs import build_handler
from core.settings import Settings
from fuzzing import SECRET, Ledger, Sent, bodies, encode, sqs_wire, tag, worker_on
from middleware.envelope import REJECT_ACTOR, EnvelopeEncoder
from models.requests import AddNodeRequest, GraphGenerationRequest, GraphSummaryRequest

from helpers import answers
from servers import REGION, aws_client, moto_server, queue_depth, wait_for

SCALE = float(os.environ.get("FUZZ_SCALE", "1"))
REDIS_URL = os.environ.get("FUZZ_REDIS_URL", "redis://127.0.0.1:6379/0")
CODES = {"INVALID_JSON", "UNKNOWN_TASK_TYPE", "INVALID_PAYLOAD"}
REQUEST_MODELS: dict[str, type[BaseModel]] = {
    "generate_graph": GraphGenerationRequest,
    "add_node": AddNodeRequest,
    "graph_summary": GraphSummaryRequest,
}
#: Log lines that mean a consumer or middleware broke (Dramatiq restarts a crashed consumer after 3 s).
BROKEN = (
    "Consumer encountered",
    "Unexpected failure in",
    "envelope.decode_failed",
    "unhandled exception",
)


def examples(count: int) -> int:
    return max(1, int(count * SCALE))


#: The worker threads' retry jitter uses ``random`` while hypothesis generates; harmless here.
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")


def fuzz_settings(count: int) -> Any:
    return settings(
        max_examples=examples(count), deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )


def encoder() -> EnvelopeEncoder:
    found = dramatiq.get_encoder()
    assert isinstance(found, EnvelopeEncoder)
    return found


def check_message(message: dramatiq.Message[Any], broker: dramatiq.Broker) -> None:
    """``message`` can be processed: its actor exists and takes its arguments; a retry re-reads it;
    its payload validates or fails validation cleanly; no rejection repeats the secret."""
    actor = broker.get_actor(message.actor_name)
    inspect.signature(actor.fn, follow_wrapped=False).bind(*message.args, **message.kwargs)
    again = dramatiq.Message.decode(message.encode())
    assert again == message
    if message.actor_name == REJECT_ACTOR:
        assert message.kwargs["code"] in CODES and SECRET not in message.kwargs["error"]
        return
    model = REQUEST_MODELS.get(message.actor_name)
    if model is not None:
        try:
            model.model_validate(message.args[0])
        except ValidationError as error:
            assert SECRET not in describe_validation_error(error)


@fuzz_settings(3500)
@given(body=bodies())
def test_shared_decoding_always_gives_a_message(body: bytes | dict[str, Any]) -> None:
    fields = encoder().decode(encode(body))
    check_message(dramatiq.Message(**{**fields, "args": tuple(fields["args"])}), stub_broker)


@fuzz_settings(2500)
@given(body=bodies(), as_base64=st.booleans())
def test_sqs_reading_always_gives_a_message(body: bytes | dict[str, Any], as_base64: bool) -> None:
    sent = Sent(encode(body))
    text = sqs_wire(sent, int(as_base64))
    message = decode_body(text, "sqs-fuzz-id")
    check_message(message, stub_broker)
    if not isinstance(body, dict) and not text.lstrip().startswith("{"):
        assert message.actor_name == REJECT_ACTOR or text.strip().isalnum()  # base64 of a message
        assert message.kwargs["task_id"] == "sqs-fuzz-id" or message.actor_name != REJECT_ACTOR


@contextmanager
def watched_logs() -> Iterator[io.StringIO]:
    """Every log line rendered while the block runs, as the worker renders them."""
    stream = io.StringIO()
    handler = build_handler("json", stream)
    logging.getLogger().addHandler(handler)
    try:
        yield stream
    finally:
        logging.getLogger().removeHandler(handler)


def check_health(worker: dramatiq.Worker, log: str, published: list[dict[str, Any]]) -> None:
    """Consumers and worker threads alive, nothing broken in the logs, the secret nowhere."""
    assert all(thread.is_alive() for thread in worker.consumers.values())
    assert all(thread.is_alive() for thread in worker.workers)
    broken = [line for line in log.splitlines() if any(marker in line for marker in BROKEN)]
    assert not broken, broken[:3]
    assert SECRET not in log
    assert SECRET not in json.dumps(published)
    for answer in published:
        assert answer["payload"]["status"] == "FAILED" and answer["payload"]["errorCode"]


@fuzz_settings(100)
@given(batch=st.lists(bodies(), min_size=25, max_size=25))
def test_stub_worker_answers_or_dead_letters_everything(
    batch: list[bytes | dict[str, Any]], stub_worker: dramatiq.Worker
) -> None:
    sink = stub_broker_sink()
    sent = [tag(body, n) for n, body in enumerate(batch)]
    before, seen = len(sink.envelopes), {id(m) for m in stub_broker.dead_letters}  # type: ignore[attr-defined]
    with watched_logs() as log:
        for item in sent:
            stub_broker.queues[QUEUE].put(item.wire)  # type: ignore[attr-defined]
        stub_broker.join(QUEUE, fail_fast=False)  # type: ignore[attr-defined]
        stub_worker.join()
    published = answers(sink.envelopes[before:])
    ledger = Ledger(sent)
    for envelope in published:
        ledger.answer(envelope)
    for message in stub_broker.dead_letters:  # type: ignore[attr-defined]
        if id(message) not in seen:
            ledger.dead_letter(message.message_id)
    ledger.check()
    check_health(stub_worker, log.getvalue(), published)


def stub_broker_sink() -> MemorySink:
    from actors import services

    assert isinstance(services.sink, MemorySink)
    return services.sink


@pytest.fixture(scope="module")
def redis_worker() -> Iterator[tuple[dramatiq.Broker, MemorySink, dramatiq.Worker]]:
    """The worker on the shared Redis, under a namespace of its own (removed afterwards)."""
    connection = redis.Redis.from_url(REDIS_URL)
    try:
        connection.ping()
    except redis.ConnectionError:
        pytest.fail("Redis must run on 127.0.0.1:6379")
    namespace = f"ai-worker-fuzz-{uuid.uuid4().hex[:12]}"
    settings = Settings(BROKER="redis", REDIS_URL=REDIS_URL, METRICS=False)  # type: ignore[call-arg]
    try:
        with worker_on(settings, namespace=namespace) as parts:
            yield parts
    finally:
        for key in connection.scan_iter(f"{namespace}*"):
            connection.delete(key)


@fuzz_settings(40)
@given(batch=st.lists(bodies(), min_size=25, max_size=25))
def test_redis_worker_answers_or_dead_letters_everything(
    batch: list[bytes | dict[str, Any]], redis_worker: tuple[dramatiq.Broker, MemorySink, dramatiq.Worker]
) -> None:
    broker, sink, worker = redis_worker
    sent = [tag(body, n) for n, body in enumerate(batch)]
    dead_key = f"{broker.namespace}:{QUEUE}.XQ.msgs"  # type: ignore[attr-defined]
    connection = broker.client  # type: ignore[attr-defined]
    dead_before = set(connection.hkeys(dead_key))
    before = len(sink.envelopes)
    with watched_logs() as log:
        for item in sent:
            if b'"actor_name"' in item.wire and b'"options":{' in item.wire.replace(b" ", b""):
                forge_on_redis(broker, item)  # a Dramatiq message written straight into Redis
            else:
                broker.enqueue(dramatiq.Message.decode(item.wire))  # what `ai-worker enqueue` does
        broker.join(QUEUE, interval=50, timeout=120_000)  # type: ignore[attr-defined]
        worker.join()
    published = answers(sink.envelopes[before:])
    ledger = Ledger(sent)
    for envelope in published:
        ledger.answer(envelope)
    for receipt in set(connection.hkeys(dead_key)) - dead_before:
        data = connection.hget(dead_key, receipt)
        with suppress(ValueError, KeyError, TypeError):
            ledger.dead_letter(json.loads(data)["message_id"])
    ledger.check()
    check_health(worker, log.getvalue(), published)


def forge_on_redis(broker: dramatiq.Broker, item: Sent) -> None:
    """Store a Dramatiq-shaped body as the Redis broker stores messages: by a receipt id in its options."""
    receipt = str(uuid.uuid4())
    body = json.loads(item.wire)
    body["options"]["redis_message_id"] = receipt
    item.wire = encode(body)
    broker.do_enqueue(QUEUE, receipt, item.wire)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def sqs_worker() -> Iterator[dict[str, Any]]:
    """The worker on SQS (moto server), reading quickly (1 s long polls)."""
    with moto_server() as endpoint:
        base = Settings(AWS_ENDPOINT_URL=endpoint, AWS_REGION=REGION)  # type: ignore[call-arg]
        urls = create_queues(base, prefix=f"fuzz-{uuid.uuid4().hex[:8]}", max_receive_count=5)
        settings = Settings(BROKER="sqs", AWS_ENDPOINT_URL=endpoint, AWS_REGION=REGION, METRICS=False, **urls)  # type: ignore[arg-type]
        with worker_on(settings, wait_time_seconds=1) as (_broker, sink, worker):
            yield {"urls": urls, "sink": sink, "worker": worker, "sqs": aws_client("sqs", endpoint)}


@fuzz_settings(25)
@given(batch=st.lists(bodies(), min_size=20, max_size=20))
def test_sqs_worker_answers_or_dead_letters_everything(
    batch: list[bytes | dict[str, Any]], sqs_worker: dict[str, Any]
) -> None:
    sqs, urls, sink = sqs_worker["sqs"], sqs_worker["urls"], sqs_worker["sink"]
    sent = [tag(body, n) for n, body in enumerate(batch)]
    texts = [sqs_wire(item, n) for n, item in enumerate(sent)]
    before = len(sink.envelopes)
    with watched_logs() as log:
        for start in range(0, len(sent), 10):
            entries = [
                {"Id": str(n), "MessageBody": texts[n]} for n in range(start, min(start + 10, len(sent)))
            ]
            response = sqs.send_message_batch(QueueUrl=urls["SQS_REQUEST_QUEUE_URL"], Entries=entries)
            assert not response.get("Failed"), response.get("Failed")
            for ok in response["Successful"]:
                sent[int(ok["Id"])].task_ids.add(ok["MessageId"])  # answered under it without a taskId
        wait_for(lambda: queue_depth(sqs, urls["SQS_REQUEST_QUEUE_URL"]) == 0, 120, interval=0.2)
    published = answers(sink.envelopes[before:])
    ledger = Ledger(sent)
    for envelope in published:
        ledger.answer(envelope)
    for body in drain(sqs, urls["SQS_DEAD_LETTER_QUEUE_URL"]):
        for n, text in enumerate(texts):
            if text == body:
                sent[n].dead = True
    ledger.check()
    check_health(sqs_worker["worker"], log.getvalue(), published)


def drain(sqs: Any, url: str) -> list[str]:
    """Receive and delete every message of a queue."""
    found: list[str] = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
            "Messages", []
        )
        if not messages:
            return found
        for message in messages:
            found.append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
