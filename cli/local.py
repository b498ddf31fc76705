"""Life without the backend: create queues, send the backend's envelopes, read answers, redrive the DLQ.

These are the ``ai-worker queues|enqueue|results|dlq`` commands. They use the same settings as the
worker (``BROKER``, ``SQS_*``, ``AWS_ENDPOINT_URL``, ``S3_PAYLOAD_BUCKET``, ``REDIS_URL``, ``BLOB_DIR``).
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from adapters.aws import client
from adapters.blobs import BlobStore
from adapters.sinks import RESULTS_KEY
from core.settings import Settings
from models.base import utc_now_iso

#: The request payload the backend sends for each task type, given the uploaded key.
TASK_KEYS = {
    "GRAPH_GENERATION_REQUEST": ("graph-generation", "task"),
    "ADD_NODE_REQUEST": ("add-node", "task_add_node"),
    "GRAPH_SUMMARY_REQUEST": ("graph-summary", "summary"),
}


def create_queues(
    settings: Settings, prefix: str = "ai-worker", max_receive_count: int = 5
) -> dict[str, str]:
    """Create request, result and dead-letter queues (with a redrive policy) and the payload bucket."""
    sqs = client("sqs", region=settings.aws_region, endpoint_url=settings.aws_endpoint_url)
    dlq_url = sqs.create_queue(QueueName=f"{prefix}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)})
    request_url = sqs.create_queue(
        QueueName=f"{prefix}-requests", Attributes={"VisibilityTimeout": "120", "RedrivePolicy": redrive}
    )["QueueUrl"]
    result_url = sqs.create_queue(QueueName=f"{prefix}-results")["QueueUrl"]
    if settings.s3_payload_bucket:
        s3 = client("s3", region=settings.aws_region, endpoint_url=settings.aws_endpoint_url)
        s3.create_bucket(
            Bucket=settings.s3_payload_bucket,
            CreateBucketConfiguration={"LocationConstraint": settings.aws_region},
        )
    return {
        "SQS_REQUEST_QUEUE_URL": request_url,
        "SQS_RESULT_QUEUE_URL": result_url,
        "SQS_DEAD_LETTER_QUEUE_URL": dlq_url,
    }


def upload_input(blobs: BlobStore, task_type: str, task_id: str, path: Path) -> str:
    """Upload a file or folder where the backend puts a task's input; returns the request's key."""
    folder = TASK_KEYS[task_type][0]
    if task_type == "GRAPH_GENERATION_REQUEST":
        prefix = f"{folder}/{task_id}/"
        files = [p for p in sorted(path.rglob("*")) if p.is_file()] if path.is_dir() else [path]
        for file in files:
            name = file.relative_to(path).as_posix() if path.is_dir() else "input.json"
            blobs.put(prefix + name, file.read_bytes())
        return prefix
    name = "batch.json" if task_type == "ADD_NODE_REQUEST" else "graph.json"
    key = f"{folder}/{task_id}/{name}"
    blobs.put(key, path.read_bytes())
    return key


def backend_envelope(
    task_type: str, task_id: str, user_id: str, key: str, bucket: str | None, language: str = "ko"
) -> dict[str, Any]:
    """Exactly the envelope the backend sends for ``task_type`` (field order included)."""
    payload: dict[str, Any] = {"userId": user_id}
    if task_type == "GRAPH_SUMMARY_REQUEST":
        payload.update({"graphS3Key": key, "bucket": bucket, "language": language})
    elif task_type == "ADD_NODE_REQUEST":
        payload.update({"s3Key": key, "bucket": bucket, "inputType": "auto", "language": language})
    else:
        payload.update(
            {
                "s3Key": key,
                "bucket": bucket,
                "includeSummary": True,
                "summaryLanguage": language,
                "language": language,
                "inputType": "auto",
                "minClusters": 3,
                "maxClusters": 8,
            }
        )
    if bucket is None:
        del payload["bucket"]
    return {"taskId": task_id, "taskType": task_type, "payload": payload, "timestamp": utc_now_iso()}


def new_task_id(task_type: str, user_id: str) -> str:
    """A task id shaped like the backend's (``task_{userId}_{ULID}``...)."""
    stamp = uuid.uuid4().hex[:26].upper()
    return f"{TASK_KEYS[task_type][1]}_{user_id}_{stamp}"


def send_envelope(settings: Settings, envelope: dict[str, Any]) -> None:
    """Put a raw envelope on the request queue of the configured broker."""
    body = json.dumps(envelope, ensure_ascii=False)
    if settings.broker == "sqs":
        sqs = client("sqs", region=settings.aws_region, endpoint_url=settings.aws_endpoint_url)
        sqs.send_message(QueueUrl=settings.sqs_request_queue_url, MessageBody=body)
        return
    if settings.broker == "redis":
        import dramatiq

        from actors import broker

        broker.enqueue(dramatiq.Message.decode(body.encode()))  # decoded by the envelope encoder
        return
    raise SystemExit("enqueue needs BROKER=sqs or BROKER=redis (the stub broker lives inside one process)")


def read_results(settings: Settings, *, follow: bool = False, wait: int = 20) -> Iterator[dict[str, Any]]:
    """Answers from the result queue (SQS: received and deleted; Redis: popped from the list)."""
    if settings.broker == "sqs":
        sqs = client("sqs", region=settings.aws_region, endpoint_url=settings.aws_endpoint_url)
        while True:
            received = sqs.receive_message(
                QueueUrl=settings.sqs_result_queue_url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=wait if follow else 1,
            ).get("Messages", [])
            for message in received:
                yield json.loads(message["Body"])
                sqs.delete_message(
                    QueueUrl=settings.sqs_result_queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
            if not received and not follow:
                return
    elif settings.broker == "redis":
        import redis

        connection = redis.Redis.from_url(settings.redis_url)
        while True:
            item = connection.blpop([RESULTS_KEY], timeout=wait) if follow else connection.lpop(RESULTS_KEY)
            if item is None:
                if not follow:
                    return
                continue
            yield json.loads(item[1] if isinstance(item, list | tuple) else item)
    else:
        raise SystemExit("results needs BROKER=sqs or BROKER=redis")


def fresh_retries(body: str) -> str:
    """A dead-lettered body ready to run again: a Dramatiq message gets its retry count reset."""
    try:
        message = json.loads(base64.b64decode(body, validate=True))
    except (binascii.Error, ValueError):
        return body  # a backend envelope or an unreadable body: sent back as it came
    if not isinstance(message, dict) or "actor_name" not in message:
        return body
    message.get("options", {}).pop("retries", None)
    return base64.b64encode(json.dumps(message).encode()).decode()


def dead_letters(settings: Settings, *, redrive: bool = False) -> list[str]:
    """Bodies in the dead-letter queue; with ``redrive``, moved back to the request queue."""
    if not settings.sqs_dead_letter_queue_url:
        raise SystemExit("SQS_DEAD_LETTER_QUEUE_URL is not set")
    dlq = settings.sqs_dead_letter_queue_url
    sqs = client("sqs", region=settings.aws_region, endpoint_url=settings.aws_endpoint_url)
    bodies: list[str] = []
    handles: list[str] = []
    while True:
        received = sqs.receive_message(
            QueueUrl=dlq, MaxNumberOfMessages=10, WaitTimeSeconds=1, VisibilityTimeout=60
        ).get("Messages", [])
        if not received:
            break
        for message in received:
            bodies.append(message["Body"])
            if redrive:
                body = fresh_retries(message["Body"])
                sqs.send_message(QueueUrl=settings.sqs_request_queue_url, MessageBody=body)
                sqs.delete_message(QueueUrl=dlq, ReceiptHandle=message["ReceiptHandle"])
            else:
                handles.append(message["ReceiptHandle"])
    for start in range(0, len(handles), 10):  # listing only: visible again at once
        entries = [
            {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0}
            for i, h in enumerate(handles[start : start + 10])
        ]
        sqs.change_message_visibility_batch(QueueUrl=dlq, Entries=entries)
    return bodies
