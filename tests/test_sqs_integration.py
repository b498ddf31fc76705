"""The worker on the SQS broker against a real SQS + S3 wire-protocol server (moto) on loopback.

``dramatiq actors`` runs as production runs it, in a subprocess; the test plays the backend:
it uploads bundles into the bucket, sends raw envelopes and poison bodies to the request queue and
reads the result queue.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dramatiq
import pytest
from dramatiq.middleware import Retries
from dramatiq_sqs import SQSBroker
from dramatiq_sqs.exceptions import MessageDelayTooLong

from actors import broker as stub_broker
from actors.broker import MAX_BACKOFF_MS, MAX_RETRIES, MIN_BACKOFF_MS
from brokers.acks import Acknowledger
from brokers.sqs import EnvelopeSQSBroker, decode_body
from cli.local import create_queues
from core.settings import Settings
from middleware.concurrency import Concurrency
from middleware.envelope import REJECT_ACTOR, message_id_for

from helpers import EXAMPLES, example
from servers import REGION, FlakyProxy, aws_client, moto_server, queue_depth, wait_for, worker_process

BUCKET = "graphdata-payloads"


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A moto server with the three queues (redrive policy) and the payload bucket."""
    with moto_server() as endpoint:
        settings = Settings(AWS_ENDPOINT_URL=endpoint, AWS_REGION=REGION, S3_PAYLOAD_BUCKET=BUCKET)  # type: ignore[call-arg]
        urls = create_queues(settings, prefix="it", max_receive_count=3)
        yield {
            "endpoint": endpoint,
            "urls": urls,
            "sqs": aws_client("sqs", endpoint),
            "s3": aws_client("s3", endpoint),
        }


def worker_env(aws: dict[str, Any], tmp: Path, endpoint: str | None = None, **extra: str) -> dict[str, str]:
    return {
        "BROKER": "sqs",
        **aws["urls"],
        "AWS_ENDPOINT_URL": endpoint or aws["endpoint"],
        "AWS_REGION": REGION,
        "S3_PAYLOAD_BUCKET": BUCKET,
        "CHROMA_PATH": str(tmp / "chroma"),
        "BLOB_DIR": str(tmp / "blobs"),
        "SQS_VISIBILITY_TIMEOUT": "60",
        **extra,
    }


def upload_bundle(aws: dict[str, Any], prefix: str) -> None:
    for path in (EXAMPLES / "bundle").iterdir():
        aws["s3"].put_object(Bucket=BUCKET, Key=prefix + path.name, Body=path.read_bytes())


def collect_answers(
    aws: dict[str, Any], expected: set[str], minimum: int = 0, timeout: float = 240
) -> dict[str, list[dict[str, Any]]]:
    """Read the result queue until every expected taskId (and at least ``minimum`` ids) has an answer."""
    answers: dict[str, list[dict[str, Any]]] = {}
    sqs, url = aws["sqs"], aws["urls"]["SQS_RESULT_QUEUE_URL"]

    def done() -> bool:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        ):
            body = json.loads(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            if not body["taskType"].endswith("_PROGRESS"):
                answers.setdefault(body["taskId"], []).append(body)
        return expected <= set(answers) and len(answers) >= minimum

    wait_for(done, timeout, interval=0)
    return answers


def graph_envelope(task_id: str, prefix: str) -> dict[str, Any]:
    body = example("request_graph_generation.json")
    body["taskId"] = task_id
    body["payload"].update({"s3Key": prefix, "includeSummary": False})
    return body


def test_backend_envelopes_and_poison_bodies(aws: dict[str, Any], tmp_path: Path) -> None:
    sqs, urls = aws["sqs"], aws["urls"]
    upload_bundle(aws, "graph-generation/it-good/")
    good = graph_envelope("task_user-7f3a_IT_GOOD", "graph-generation/it-good/")
    unknown = {"taskId": "micro_IT_1", "taskType": "MICROSCOPE_INGEST_REQUEST", "payload": {"userId": "u1"}}
    missing = graph_envelope("task_user-7f3a_IT_MISSING", "graph-generation/it-nothing/")
    poison = [
        "this is not json",
        base64.b64encode(b"\x00\x01 not a dramatiq message").decode(),
        '{"taskId": "p-1", "taskType": ',
    ]
    for body in [json.dumps(good), json.dumps(unknown), json.dumps(missing), *poison]:
        sqs.send_message(QueueUrl=urls["SQS_REQUEST_QUEUE_URL"], MessageBody=body)
    poison_ids = []
    with worker_process(worker_env(aws, tmp_path), tmp_path / "worker.log"):
        # poison bodies are answered under their SQS message id
        answers = collect_answers(aws, {good["taskId"], unknown["taskId"], missing["taskId"]}, minimum=6)
        wait_for(lambda: queue_depth(sqs, urls["SQS_REQUEST_QUEUE_URL"]) == 0, 60)
    for late in drain(sqs, urls["SQS_RESULT_QUEUE_URL"]):  # anything answered twice shows up here
        body = json.loads(late)
        if not body["taskType"].endswith("_PROGRESS"):
            answers.setdefault(body["taskId"], []).append(body)
    assert answers[good["taskId"]][0]["payload"]["status"] == "COMPLETED"
    assert answers[unknown["taskId"]][0]["payload"]["errorCode"] == "UNKNOWN_TASK_TYPE"
    assert answers[missing["taskId"]][0]["payload"]["errorCode"] == "INPUT_NOT_FOUND"
    for task_id, items in answers.items():
        assert len(items) == 1, (task_id, items)  # exactly once
        if task_id not in (good["taskId"], unknown["taskId"], missing["taskId"]):
            poison_ids.append(task_id)
            assert items[0]["payload"]["errorCode"] == "INVALID_JSON"
    assert len(poison_ids) == 3
    graph_key = answers[good["taskId"]][0]["payload"]["resultS3Key"]
    graph = json.loads(aws["s3"].get_object(Bucket=BUCKET, Key=graph_key)["Body"].read())
    assert len(graph["nodes"]) == 3
    dead = drain(sqs, urls["SQS_DEAD_LETTER_QUEUE_URL"])
    assert sorted(dead) == sorted([*poison, json.dumps(unknown)])  # understood-but-bad requests are deleted


def drain(sqs: Any, url: str) -> list[str]:
    bodies = []
    while True:
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        )
        if not received:
            return bodies
        for message in received:
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_transient_s3_failure_recovers_through_a_retry(aws: dict[str, Any], tmp_path: Path) -> None:
    upload_bundle(aws, "graph-generation/it-flaky/")
    body = graph_envelope("task_user-7f3a_IT_FLAKY", "graph-generation/it-flaky/")
    aws["sqs"].send_message(QueueUrl=aws["urls"]["SQS_REQUEST_QUEUE_URL"], MessageBody=json.dumps(body))
    # boto3 itself tries 5 times (1 + max_attempts 4 retries): 5 failures surface to the task once,
    # which Dramatiq then retries 15 s later.
    with FlakyProxy(aws["endpoint"], marker="it-flaky/input.json", failures=5) as proxy:
        with worker_process(worker_env(aws, tmp_path, endpoint=proxy.url), tmp_path / "worker.log"):
            answers = collect_answers(aws, {body["taskId"]}, timeout=180)
        assert proxy.state["failed"] == 5
    log = (tmp_path / "worker.log").read_text()
    assert "task.retry_scheduled" in log
    (answer,) = answers[body["taskId"]]
    assert answer["payload"]["status"] == "COMPLETED"


def test_undecodable_bodies_become_rejections() -> None:
    assert decode_body("garbage", "sqs-id-1").actor_name == REJECT_ACTOR
    assert decode_body("garbage", "sqs-id-1").kwargs["task_id"] == "sqs-id-1"
    envelope = json.dumps({"taskType": "GRAPH_GENERATION_REQUEST", "payload": {"userId": "u"}})
    message = decode_body(envelope, "sqs-id-2")
    assert message.actor_name == "generate_graph" and message.kwargs["task_id"] == "sqs-id-2"
    native = dramatiq.Message(
        queue_name="default", actor_name="generate_graph", args=({},), kwargs={"task_id": "t"}, options={}
    )
    assert decode_body(base64.b64encode(native.encode()).decode(), "x") == native
    assert decode_body(json.dumps(example("request_add_node.json")), "x").message_id == message_id_for(
        example("request_add_node.json")["taskId"]
    )


def test_retry_delays_never_pass_the_sqs_limit(aws: dict[str, Any]) -> None:
    """Dramatiq's default backoff reaches hours; plain dramatiq-sqs then raises on the re-enqueue and the
    task is lost. Here the worker's backoff is capped at 900 s and the broker caps any longer delay."""
    retries = next(m for m in stub_broker.middleware if isinstance(m, Retries))
    assert retries.max_backoff == MAX_BACKOFF_MS <= 900_000 and retries.min_backoff == MIN_BACKOFF_MS
    assert retries.max_retries == MAX_RETRIES
    queue = aws["sqs"].create_queue(QueueName="it-delays")["QueueUrl"]
    message = dramatiq.Message(
        queue_name="default", actor_name="generate_graph", args=({},), kwargs={"task_id": "t"}, options={}
    )

    plain = SQSBroker(endpoint_url=aws["endpoint"], region_name=REGION)
    plain.declare_queue("default")
    plain.queues["default"] = plain.sqs.Queue(queue)
    with pytest.raises(MessageDelayTooLong):
        plain.enqueue(message, delay=20 * 3600 * 1000)  # what a 12th retry asks for by default

    ours = EnvelopeSQSBroker(request_queue_url=queue, endpoint_url=aws["endpoint"], region_name=REGION)
    ours.declare_queue("default")
    ours.enqueue(message, delay=20 * 3600 * 1000)
    attributes = aws["sqs"].get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    assert int(attributes["ApproximateNumberOfMessagesDelayed"]) == 1  # still queued, 900 s later


def native_body(index: int) -> str:
    message = dramatiq.Message(
        queue_name="default", actor_name="generate_graph", args=({"n": index},), kwargs={}, options={}
    )
    return base64.b64encode(message.encode()).decode()


def test_acknowledgements_are_batched_when_several_are_ready(aws: dict[str, Any]) -> None:
    sqs = aws["sqs"]
    queue = sqs.create_queue(QueueName="it-ack-batches")["QueueUrl"]
    for index in range(12):
        sqs.send_message(QueueUrl=queue, MessageBody=native_body(index))
    handles = []
    while len(handles) < 12:
        for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
            handles.append(message["ReceiptHandle"])
    client = aws_client("sqs", aws["endpoint"])
    batches: list[int] = []

    def count(params: dict[str, Any], **_: Any) -> None:
        batches.append(len(params["Entries"]))

    event = "provide-client-params.sqs.DeleteMessageBatch"
    client.meta.events.register(event, count)
    try:
        acknowledger = Acknowledger(client, queue)  # not started: all twelve are ready before the flush
        for handle in handles:
            acknowledger.add(handle)
        assert acknowledger.flush() == 12
    finally:
        client.meta.events.unregister(event, count)
    assert batches == [10, 2]
    assert queue_depth(sqs, queue) == 0


def test_an_acknowledgement_never_waits_behind_a_long_poll(aws: dict[str, Any]) -> None:
    """Dramatiq acknowledges from the worker thread while the consumer thread sits in a 20 s long poll:
    the message is deleted within a second all the same."""
    sqs = aws["sqs"]
    queue = sqs.create_queue(QueueName="it-ack-latency")["QueueUrl"]
    broker = EnvelopeSQSBroker(request_queue_url=queue, endpoint_url=aws["endpoint"], region_name=REGION)
    broker.declare_queue("default")
    consumer = broker.consume("default", prefetch=10)
    try:
        for index in range(2):
            sqs.send_message(QueueUrl=queue, MessageBody=native_body(index))
        received: list[Any] = []

        def receive_both() -> bool:
            message = next(consumer)
            if message is not None:
                received.append(message)
            return len(received) == 2

        wait_for(receive_both, 30, interval=0)
        assert queue_depth(sqs, queue) == 2
        poll = threading.Thread(target=next, args=(consumer,), daemon=True)  # the queue is empty: 20 s
        poll.start()
        time.sleep(0.5)
        latencies = []
        for remaining, message in zip((1, 0), received, strict=True):
            acknowledged = time.monotonic()
            consumer.ack(message)
            wait_for(lambda r=remaining: queue_depth(sqs, queue) == r, 1.0, interval=0.02)
            latencies.append(time.monotonic() - acknowledged)
        print("delete latencies (s):", [round(latency, 3) for latency in latencies])
        assert poll.is_alive(), "the long poll ended: the test did not show what it should"
    finally:
        consumer.draining = True
        broker.release_unfinished()


def test_no_task_is_answered_twice_after_sigkill(aws: dict[str, Any], tmp_path: Path) -> None:
    """Twenty small tasks, then SIGKILL a second after their answers: every request is gone from the
    queue (none can come back to be answered again) and every task was answered exactly once."""
    sqs, urls = aws["sqs"], aws["urls"]
    upload_bundle(aws, "graph-generation/it-acks/")
    task_ids = {f"task_user-7f3a_IT_ACK_{index:02d}" for index in range(20)}
    for task_id in sorted(task_ids):
        body = graph_envelope(task_id, "graph-generation/it-acks/")
        sqs.send_message(QueueUrl=urls["SQS_REQUEST_QUEUE_URL"], MessageBody=json.dumps(body))
    # Production's 20 s long polls: an acknowledgement waiting for the next receive would still be there.
    env = worker_env(aws, tmp_path, EMBEDDER="lexical", WORKER_SHUTDOWN_SECONDS="100")
    with worker_process(env, tmp_path / "worker.log") as process:
        answers = collect_answers(aws, task_ids)
        time.sleep(1.0)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert queue_depth(sqs, urls["SQS_REQUEST_QUEUE_URL"]) == 0
    for late in drain(sqs, urls["SQS_RESULT_QUEUE_URL"]):
        body = json.loads(late)
        if not body["taskType"].endswith("_PROGRESS"):
            answers.setdefault(body["taskId"], []).append(body)
    assert set(answers) == task_ids
    assert all(len(items) == 1 and items[0]["payload"]["status"] == "COMPLETED" for items in answers.values())


def test_the_worker_runs_worker_threads_whatever_dramatiq_was_told(aws: dict[str, Any]) -> None:
    """``WORKER_THREADS`` (here 2) wins over the thread count Dramatiq's CLI passes (8 by default), and
    the consumer prefetches no more messages than there are threads."""
    queue = aws["sqs"].create_queue(QueueName="it-concurrency")["QueueUrl"]
    broker = EnvelopeSQSBroker(
        request_queue_url=queue, endpoint_url=aws["endpoint"], region_name=REGION, wait_time_seconds=1
    )
    broker.add_middleware(Concurrency(2))
    broker.declare_queue("default")
    worker = dramatiq.Worker(broker, worker_threads=8)
    worker.start()
    try:
        assert len(worker.workers) == 2
        (consumer,) = worker.consumers.values()
        assert consumer.prefetch == 2
    finally:
        worker.stop(timeout=5000)
