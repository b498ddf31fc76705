"""The SQS broker: dramatiq-sqs, reading the backend's queue as the backend writes it.

What differs from plain dramatiq-sqs, and why (DESIGN.md decision 1):

- The request queue is the existing queue at ``SQS_REQUEST_QUEUE_URL``, used as given: never created
  or renamed. Every actor's queue maps onto it.
- A body is read as the backend's plain JSON envelope, or as a base64 Dramatiq message (retries,
  internal enqueues). A body that is neither is not left invisible to come back every visibility
  timeout: it becomes a rejection message, answered ``FAILED``, and is then dead-lettered at once.
- Nacked messages (rejected bodies, retries spent) go to the dead-letter queue: ``SQS_DEAD_LETTER_QUEUE_URL``,
  else the one named by the queue's redrive policy. A request that was understood but could not be
  served (a ``PermanentError``, already answered ``FAILED``) is deleted instead, as the contract says.
- Delays are capped at SQS's 15 minutes instead of raising (which would drop the task).
- The visibility timeout is short (default 120 s) and long polling really waits (20 s, or less when
  the worker's shutdown budget is short: a stopping consumer's last poll ends well before it).
- A consumer whose prefetch is full waits for a slot to free (``slots.py``), not for a backoff that
  grows to a second, before it receives again.
- Acknowledgements are deleted at once by a background thread (``acks.py``), batched when several
  are ready, never behind a long poll: a finished task's message leaves within a second.
- Held messages stay invisible through a heartbeat (``visibility.py``), for at most their actor's time
  limit plus one visibility timeout (DESIGN.md decision 4).
- On worker shutdown the consumers stop receiving and release their prefetched messages at once; what
  is still processing when the worker's shutdown budget runs out is released (visibility 0) by
  ``release_unfinished`` (``middleware/shutdown.py`` calls it at the deadline) or when the consumer
  closes, so another worker takes it at once (DESIGN.md decision 5).
"""

from __future__ import annotations

import binascii
import json
import threading
import time
from base64 import b64decode
from collections.abc import Callable, Iterable
from typing import Any

import dramatiq
from dramatiq.common import iter_queue
from dramatiq.logging import get_logger
from dramatiq.middleware import TimeLimit
from dramatiq_sqs import SQSBroker
from dramatiq_sqs.broker import (
    MAX_DELAY_SECONDS,
    MAX_PREFETCH,
    MAX_WAIT_TIME_SECONDS,
    SQSConsumer,
    _SQSMessage,
)

from brokers.acks import Acknowledger
from brokers.slots import FreeSlots
from brokers.visibility import Held, VisibilityHeartbeat
from core.errors import InvalidJSON
from middleware.bodies import MAX_BODY_BYTES
from middleware.envelope import EnvelopeEncoder
from middleware.results import FAILURE_OPTION, Failure

#: Default seconds a received message stays invisible (a heartbeat extends it for long tasks).
DEFAULT_VISIBILITY_TIMEOUT = 120
#: Seconds between polls of a draining consumer (it no longer receives).
DRAIN_POLL_SECONDS = 0.5


def decode_body(body: str, message_id: str) -> dramatiq.Message[Any]:
    """A received SQS body as a Dramatiq message; never raises.

    Base64 of a Dramatiq message (our retries and internal enqueues) is decoded first; any other body
    goes through the decoding every broker shares (``EnvelopeEncoder.decode``): a backend envelope
    (a missing ``taskId`` becomes the SQS message id), or a rejection.
    """
    encoder = dramatiq.get_encoder()
    assert isinstance(encoder, EnvelopeEncoder), "the envelope encoder must be installed"
    raw = body.encode("utf-8", "surrogatepass")
    if not body.lstrip().startswith("{") and len(raw) <= MAX_BODY_BYTES * 4 // 3 + 4:
        try:
            data = b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            data = b""
        if data.lstrip().startswith(b"{") and b'"actor_name"' in data:
            raw = data  # an envelope is plain JSON, never base64 (CONTRACT.md)
    fields = encoder.decode(raw, task_id=message_id)
    try:
        return _message(fields)
    except Exception as error:  # decoding guarantees fields that fit; this only keeps the consumer alive
        rejection = InvalidJSON(f"message body could not be read ({type(error).__name__})")
        return _message(encoder.reject(rejection, {"taskId": message_id}, raw))


def _message(fields: dict[str, Any]) -> dramatiq.Message[Any]:
    return dramatiq.Message(**{**fields, "args": tuple(fields["args"])})


class EnvelopeSQSConsumer(SQSConsumer):
    """Consumes the request queue: decodes every body, deletes acknowledged messages at once,
    dead-letters at once.

    Every message it holds (prefetched or being processed) is kept invisible by the broker's
    ``VisibilityHeartbeat``; acknowledged ones are deleted by the broker's ``Acknowledger``. ``drain``
    (worker shutdown) stops receiving and releases the prefetched messages at once; ``close`` after a
    drain releases whatever is still held, so another worker takes it immediately instead of after the
    visibility timeout.
    """

    def __init__(
        self,
        *args: Any,
        heartbeat: VisibilityHeartbeat,
        acknowledger: Acknowledger,
        slots: FreeSlots,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.heartbeat = heartbeat
        self.acknowledger = acknowledger
        self.limit_for: Callable[[dramatiq.Message[Any]], float] = lambda message: float(
            heartbeat.visibility_timeout
        )
        self.slots = slots
        self.full_misses = 0
        self.counting = threading.Lock()
        self.draining = False
        self.receiving = threading.Lock()
        #: Monotonic time of the last poll of the consumer loop (the liveness middleware reads it).
        self.last_poll = time.monotonic()

    def count_held(self, change: int) -> None:
        """Change the count of messages held: worker threads acknowledge while this thread receives,
        and a lost update would shrink (or overrun) the prefetch for good."""
        with self.counting:
            self.message_refc += change

    def ack(self, message: _SQSMessage) -> None:
        """Delete the message at once (with whatever other acknowledgements are ready)."""
        self.heartbeat.drop(message._sqs_message.receipt_handle)
        self.acknowledger.add(message._sqs_message.receipt_handle)
        self.count_held(-1)

    def nack(self, message: _SQSMessage) -> None:
        """Dead-letter a rejected body or a task whose retries are spent; delete an answered bad request."""
        self.heartbeat.drop(message._sqs_message.receipt_handle)
        understood = message.options.get(FAILURE_OPTION) == Failure.INVALID_REQUEST
        if understood or self.dead_letter_queue is None:
            if not understood:
                self.logger.error("No dead-letter queue: deleting failed message %r.", message.message_id)
            self.acknowledger.add(message._sqs_message.receipt_handle)
        else:
            self.dead_letter_queue.send_message(MessageBody=message._sqs_message.body)
            message._sqs_message.delete()
        self.count_held(-1)

    def requeue(self, messages: Iterable[_SQSMessage]) -> None:
        """Make ``messages`` visible again at once."""
        held = [h for m in messages if (h := self.heartbeat.drop(m._sqs_message.receipt_handle))]
        self.count_held(-self.heartbeat.release(held))

    def drain(self) -> None:
        """Stop receiving and release the prefetched messages (the worker is shutting down)."""
        self.draining = True
        self.release_prefetched()

    def release_prefetched(self) -> None:
        """Make the messages received but not yet handed to a worker thread visible again."""
        buffered = []
        while self.messages:
            buffered.append(self.messages.popleft())
        if buffered:
            self.requeue(buffered)
            self.logger.info("Released %d prefetched message(s).", len(buffered))

    def close(self) -> None:
        """Delete what was acknowledged and release what was prefetched; after a drain, also release
        what is still being processed (it cannot finish) and stop the heartbeat and the acknowledger."""
        try:
            self.acknowledger.flush()
        finally:
            # A receive still in flight may bring messages in: wait for it (at most one long poll).
            acquired = self.receiving.acquire(timeout=self.wait_time_seconds + 5)
            try:
                self.release_prefetched()
                if self.draining:
                    released = self.heartbeat.release(self.heartbeat.holding())
                    if released:
                        self.logger.warning("Released %d unfinished message(s).", released)
                    self.heartbeat.stop()
                    self.acknowledger.stop()
            finally:
                if acquired:
                    self.receiving.release()

    def __next__(self) -> dramatiq.Message[Any] | None:
        self.last_poll = time.monotonic()
        if self.draining:
            time.sleep(DRAIN_POLL_SECONDS)
            return None
        if self.messages:
            message: dramatiq.Message[Any] = self.messages.popleft()
            return message
        if self.slots.worth_fetching(self.prefetch - self.message_refc, self.prefetch, self.full_misses):
            with self.receiving:
                self.receive()
        else:
            # Every slot is held (or too few are free): wait for one to free instead of polling SQS.
            self.full_misses = self.slots.wait(self.full_misses)
        if self.messages:
            message = self.messages.popleft()
            return message
        return None

    def receive(self) -> None:
        """Receive up to the free prefetch slots; hold what comes (release it at once when draining)."""
        received = self.queue.receive_messages(
            MaxNumberOfMessages=self.prefetch - self.message_refc,
            WaitTimeSeconds=self.wait_time_seconds,
            VisibilityTimeout=self.visibility_timeout or DEFAULT_VISIBILITY_TIMEOUT,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        for sqs_message in received:
            message = _SQSMessage(sqs_message, decode_body(sqs_message.body, sqs_message.message_id))
            self.heartbeat.hold(Held(sqs_message.receipt_handle, message.message_id, self.limit_for(message)))
            self.messages.append(message)
            self.count_held(1)
        if self.draining:
            self.release_prefetched()


class EnvelopeSQSBroker(SQSBroker):
    """dramatiq-sqs on an existing request queue, with the consumer above.

    Parameters:
      request_queue_url: the queue every actor consumes (used as given).
      dead_letter_queue_url: where failed messages go; default: the request queue's redrive target.
      visibility_timeout: seconds a received message stays invisible.
      wait_time_seconds: long-polling wait per receive (at most 20).
      **options: passed to ``boto3.resource("sqs", ...)`` (region_name, endpoint_url, ...).
    """

    def __init__(
        self,
        *,
        request_queue_url: str,
        dead_letter_queue_url: str | None = None,
        visibility_timeout: int = DEFAULT_VISIBILITY_TIMEOUT,
        wait_time_seconds: int = MAX_WAIT_TIME_SECONDS,
        middleware: list[dramatiq.Middleware] | None = None,
        **options: Any,
    ) -> None:
        super().__init__(middleware=middleware, visibility_timeout=visibility_timeout, **options)
        self.logger = get_logger(__name__, type(self))
        self.request_queue = self.sqs.Queue(request_queue_url)
        self.dead_letter_queue_url = dead_letter_queue_url
        self.wait_time_seconds = min(wait_time_seconds, MAX_WAIT_TIME_SECONDS)
        self._dead_letter_queue: Any = None
        self._heartbeat: VisibilityHeartbeat | None = None
        self._acknowledger: Acknowledger | None = None
        self._threads_lock = threading.Lock()
        self.slots = FreeSlots()

    @property
    def heartbeat(self) -> VisibilityHeartbeat:
        """The visibility heartbeat of the request queue, started on first use."""
        with self._threads_lock:
            if self._heartbeat is None or self._heartbeat.stopped.is_set():
                self._heartbeat = VisibilityHeartbeat(
                    self.sqs.meta.client,
                    self.request_queue.url,
                    self.visibility_timeout or DEFAULT_VISIBILITY_TIMEOUT,
                )
                self._heartbeat.start()
            return self._heartbeat

    @property
    def acknowledger(self) -> Acknowledger:
        """The request queue's deleter of acknowledged messages, started on first use."""
        with self._threads_lock:
            if self._acknowledger is None or self._acknowledger.stopped.is_set():
                self._acknowledger = Acknowledger(self.sqs.meta.client, self.request_queue.url)
                self._acknowledger.start()
            return self._acknowledger

    def release_unfinished(self) -> int:
        """Delete what was acknowledged, then make every message still held visible at once
        (visibility 0) and stop extending: the worker is about to exit. The count released."""
        with self._threads_lock:
            acknowledger, heartbeat = self._acknowledger, self._heartbeat
        if acknowledger is not None:
            acknowledger.stop()
        if heartbeat is None:
            return 0
        heartbeat.stop()
        released = heartbeat.release(heartbeat.holding())
        if released:
            self.logger.warning("Released %d unfinished message(s).", released)
        return released

    def hold_limit(self, message: dramatiq.Message[Any]) -> float:
        """Seconds a message may be held: its actor's time limit plus one visibility timeout."""
        default = next((m.time_limit for m in self.middleware if isinstance(m, TimeLimit)), 600_000)
        try:
            limit = self.get_actor(message.actor_name).options.get("time_limit", default)
        except dramatiq.ActorNotFound:
            limit = default
        limit = message.options.get("time_limit", limit)
        return float(limit) / 1000 + (self.visibility_timeout or DEFAULT_VISIBILITY_TIMEOUT)

    def emit_before(self, signal: str, *args: Any, **kwargs: Any) -> None:
        """Besides the middleware: a message's hold bound counts from when its processing starts, and
        a worker shutting down drains its consumers first."""
        if signal == "process_message" and isinstance(args[0], _SQSMessage):
            self.heartbeat.started(args[0]._sqs_message.receipt_handle)
        elif signal == "worker_shutdown":
            self.drain(args[0])
        super().emit_before(signal, *args, **kwargs)

    def emit_after(self, signal: str, *args: Any, **kwargs: Any) -> None:
        """Besides the middleware: an acknowledged (or rejected) message has freed its slot."""
        super().emit_after(signal, *args, **kwargs)
        if signal in ("ack", "nack"):
            self.slots.freed()

    def drain(self, worker: dramatiq.Worker) -> None:
        """Stop the worker's consumers receiving; release their prefetched and queued messages."""
        consumers = [
            t.consumer for t in worker.consumers.values() if isinstance(t.consumer, EnvelopeSQSConsumer)
        ]
        for consumer in consumers:
            consumer.drain()
        queued = [item.message for item in iter_queue(worker.work_queue)]
        if consumers and queued:
            consumers[0].requeue(queued)
            self.logger.info("Released %d queued message(s).", len(queued))

    @property
    def consumer_class(self) -> type[EnvelopeSQSConsumer]:
        """The envelope-aware consumer."""
        return EnvelopeSQSConsumer

    def _ensure_queue(self, queue_name: str) -> None:
        if queue_name not in self.queue_names:
            raise dramatiq.QueueNotFound(queue_name)
        self.queues[queue_name] = self.request_queue

    def dead_letter_target(self) -> Any:
        """The dead-letter queue: configured, else the request queue's redrive target, else None."""
        if self._dead_letter_queue is None:
            url = self.dead_letter_queue_url
            if not url:
                self.request_queue.load()
                policy = self.request_queue.attributes.get("RedrivePolicy")
                if policy:
                    arn = json.loads(policy)["deadLetterTargetArn"]
                    account, name = arn.split(":")[4], arn.split(":")[5]
                    url = self.sqs.meta.client.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)[
                        "QueueUrl"
                    ]
            self._dead_letter_queue = self.sqs.Queue(url) if url else False
        return self._dead_letter_queue or None

    def consume(
        self, queue_name: str, prefetch: int = 1, timeout: int = MAX_WAIT_TIME_SECONDS * 1000
    ) -> EnvelopeSQSConsumer:
        """A consumer of the request queue with long polling and at most 10 messages in flight."""
        self._ensure_queue(queue_name)
        consumer = EnvelopeSQSConsumer(
            self.request_queue,
            min(prefetch, MAX_PREFETCH),
            self.wait_time_seconds * 1000,
            dead_letter_queue=self.dead_letter_target(),
            visibility_timeout=self.visibility_timeout,
            heartbeat=self.heartbeat,
            acknowledger=self.acknowledger,
            slots=self.slots,
        )
        consumer.limit_for = self.hold_limit
        return consumer

    def enqueue(self, message: dramatiq.Message[Any], *, delay: int | None = None) -> dramatiq.Message[Any]:
        """Send a Dramatiq message; a delay beyond SQS's 15 minutes is capped, never an error."""
        if delay is not None and delay > MAX_DELAY_SECONDS * 1000:
            self.logger.warning("Delay of %d ms capped at SQS's %d s.", delay, MAX_DELAY_SECONDS)
            delay = MAX_DELAY_SECONDS * 1000
        return super().enqueue(message, delay=delay)
