"""Result sinks: where answers and progress messages go (the backend's result queue in production)."""

from __future__ import annotations

import json
import threading
from typing import Any, Protocol

#: The Redis list that local runs publish answers to.
RESULTS_KEY = "ai-worker:results"


class ResultSink(Protocol):
    """Publishes one envelope (a JSON-able dict) to wherever the backend reads results."""

    def publish(self, envelope: dict[str, Any]) -> None:
        """Send one envelope."""
        ...


class MemorySink:
    """Keeps envelopes in memory, for the stub broker, the demo and tests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._envelopes: list[dict[str, Any]] = []

    def publish(self, envelope: dict[str, Any]) -> None:
        """Append one envelope."""
        with self._lock:
            self._envelopes.append(envelope)

    @property
    def envelopes(self) -> list[dict[str, Any]]:
        """A copy of everything published so far."""
        with self._lock:
            return list(self._envelopes)

    def clear(self) -> None:
        """Forget everything published."""
        with self._lock:
            self._envelopes.clear()


class SQSResultSink:
    """Sends envelopes to the backend's result queue: plain JSON body, no attributes."""

    def __init__(self, sqs_client: Any, queue_url: str) -> None:
        self.client = sqs_client
        self.queue_url = queue_url

    def publish(self, envelope: dict[str, Any]) -> None:
        """Send one envelope (boto3 retries throttling and 5xx itself)."""
        self.client.send_message(
            QueueUrl=self.queue_url, MessageBody=json.dumps(envelope, ensure_ascii=False)
        )


class RedisResultSink:
    """Appends envelopes as JSON to a Redis list, for local runs on the Redis broker."""

    def __init__(self, redis_client: Any, key: str = RESULTS_KEY) -> None:
        self.redis = redis_client
        self.key = key

    def publish(self, envelope: dict[str, Any]) -> None:
        """Append one envelope."""
        self.redis.rpush(self.key, json.dumps(envelope, ensure_ascii=False))
