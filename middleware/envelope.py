"""Envelope decoding: the backend's plain JSON envelopes become Dramatiq messages.

An actor declares the request ``taskType`` it serves with the ``task_type`` actor option; this
middleware keeps the resulting routing table. Its ``EnvelopeEncoder`` (installed as Dramatiq's
global encoder) reads every message body from any broker:

- a Dramatiq message (retries, internal enqueues) decodes as usual, once it is checked to be one
  its actor can take (fields, queue, option types and ranges, arguments that fit the signature);
- a backend envelope becomes a message for the actor of its ``taskType``: the payload is the
  argument and ``task_id`` the keyword argument, the envelope's ``taskId``/``taskType``/``timestamp``
  travel in ``options["envelope"]`` for the middleware, and the message id is derived from the
  ``taskId`` so a redelivery keeps its identity;
- anything else (not JSON, not an object, no or an unknown ``taskType``) becomes a message for the
  rejection actor, which answers it ``FAILED`` with the reason's ``errorCode``; it is never retried.

Decoding never raises, whatever the body's size, depth, encoding or content: a body over
``MAX_BODY_BYTES``, nested deeper than ``MAX_DEPTH``, not UTF-8 or not strict JSON is a rejection, and
lone surrogates are replaced so that every answer can be written as UTF-8 (``bodies.py``). Stub, Redis and SQS
consumers all decode through ``EnvelopeEncoder.decode``.
"""

from __future__ import annotations

import inspect
import json
import time
import uuid
from typing import Any, NamedTuple

import dramatiq
import structlog
from dramatiq.common import dq_name
from dramatiq.encoder import Encoder, MessageData
from dramatiq.middleware import Middleware

from core.errors import InvalidJSON, InvalidPayload, PermanentError, UnknownTaskType
from middleware.bodies import MESSAGE_FIELDS, option_problem, parse_body

logger = structlog.get_logger(__name__)

#: The actor that answers bodies no pipeline can take.
REJECT_ACTOR = "reject_envelope"
#: The routing key of the rejection actor (no real taskType is empty).
_REJECT_ROUTE = ""
#: Namespace of message ids derived from task ids.
_TASK_NAMESPACE = uuid.UUID("6f1c2f0e-9b7a-4f57-9d38-3f0b2a7c5e11")
#: The option by which Dramatiq's Redis broker acknowledges a message (the key of its stored body).
REDIS_RECEIPT = "redis_message_id"
#: The longest ``taskId`` (it is echoed in the answer and names result objects).
MAX_TASK_ID_CHARS = 512


def message_id_for(task_id: str) -> str:
    """The Dramatiq message id of a backend task: stable across redeliveries."""
    return str(uuid.uuid5(_TASK_NAMESPACE, task_id))


def envelope_of(message: dramatiq.Message[Any] | dramatiq.MessageProxy) -> dict[str, Any]:
    """The envelope metadata (``taskId``, ``taskType``, ``timestamp``) a message carries, if any."""
    envelope = message.options.get("envelope")
    return envelope if isinstance(envelope, dict) else {}


class DeclaredActor(NamedTuple):
    """What decoding needs to know of an actor: its queue and the arguments it takes."""

    queue_name: str
    signature: inspect.Signature


class EnvelopeEncoder(Encoder):
    """Encodes Dramatiq messages as JSON; decodes them and raw backend envelopes alike.

    ``decode`` is the one decoding of every broker (stub, Redis, SQS): whatever the body, it returns
    the fields of a message that its actor can be called with, or of a rejection.
    """

    def __init__(
        self, routes: dict[str, tuple[str, str]], actors: dict[str, DeclaredActor] | None = None
    ) -> None:
        self.routes = routes
        self.actors = actors if actors is not None else {}

    def encode(self, data: MessageData) -> bytes:
        """A Dramatiq message as compact JSON."""
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    def decode(self, data: bytes, *, task_id: str | None = None) -> MessageData:
        """Any body into message fields; never raises.

        ``task_id`` (the SQS message id) answers a body that carries no ``taskId`` of its own.
        """
        try:
            return self._decode(data, task_id)
        except Exception as error:  # the last resort: no body may stop a consumer
            logger.error("envelope.decode_failed", error_type=type(error).__name__)
            reason = InvalidJSON("message body could not be read")
            return self.reject(reason, {"taskId": task_id} if task_id else {}, data)

    def _decode(self, data: bytes, task_id: str | None) -> MessageData:
        fallback = {"taskId": task_id} if task_id else {}
        try:
            body = parse_body(data)
        except InvalidJSON as error:
            return self.reject(error, fallback, data)
        if not isinstance(body, dict):
            return self.reject(InvalidJSON("message body is not a JSON object"), fallback, data)
        if "actor_name" in body and "message_id" in body:
            problem = self.message_problem(body)
            if problem is None:
                return body
            options = body.get("options")
            envelope = options.get("envelope") if isinstance(options, dict) else None
            known = envelope.get("taskId") if isinstance(envelope, dict) else None
            taken = {"taskId": known} if isinstance(known, str) and known else fallback
            rejection = self.reject(InvalidJSON(f"invalid Dramatiq message: {problem}"), taken, data)
            receipt = options.get(REDIS_RECEIPT) if isinstance(options, dict) else None
            if isinstance(receipt, str):  # the Redis broker acks a message by this id
                rejection["options"][REDIS_RECEIPT] = receipt
            return rejection
        return self.route(body, data, task_id)

    def message_problem(self, body: dict[str, Any]) -> str | None:
        """What makes ``body`` unfit to be a Dramatiq message for one of our actors, or ``None``."""
        for name, kind in MESSAGE_FIELDS.items():
            value = body.get(name)
            if name not in body or not isinstance(value, kind) or isinstance(value, bool):
                return f"field {name!r} is missing or not a {getattr(kind, '__name__', kind)}"
        if extra := set(body) - set(MESSAGE_FIELDS):
            return f"unknown fields {sorted(extra)[:3]}"
        actor = self.actors.get(body["actor_name"])
        if actor is None:
            return f"unknown actor {body['actor_name'][:100]!r}"
        delayed = body["queue_name"] == dq_name(actor.queue_name) and "eta" in body["options"]
        if body["queue_name"] != actor.queue_name and not delayed:
            return "queue does not match the actor"  # a delayed copy (Redis, stub) carries its eta
        for name, value in body["options"].items():
            if problem := option_problem(name, value):
                return problem
        try:
            actor.signature.bind(*body["args"], **body["kwargs"])
        except TypeError:
            return "arguments do not fit the actor"
        return None

    def route(self, body: dict[str, Any], raw: bytes, fallback_id: str | None = None) -> MessageData:
        """A backend envelope into a message for its actor; ``fallback_id`` answers one without a
        usable ``taskId`` (else a fresh id does)."""
        task_type = body.get("taskType")
        task_id = usable_task_id(body.get("taskId"))
        envelope = {
            "taskId": task_id or fallback_id or str(uuid.uuid4()),
            "taskType": task_type if isinstance(task_type, str) else None,
            "timestamp": body.get("timestamp") if isinstance(body.get("timestamp"), str) else None,
        }
        payload = body.get("payload")
        if task_id is None and isinstance(body.get("taskId"), str) and body["taskId"]:
            too_long = InvalidPayload(f"taskId is longer than {MAX_TASK_ID_CHARS} characters")
            return self.reject(too_long, envelope, raw, payload)
        if not isinstance(task_type, str) or not task_type:
            error = UnknownTaskType(
                "envelope has no taskType" + (" (found 'type')" if "type" in body else "")
            )
            return self.reject(error, envelope, raw, payload)
        if task_type not in self.routes:
            return self.reject(
                UnknownTaskType(f"unsupported taskType {task_type[:100]!r}"), envelope, raw, payload
            )
        actor_name, queue_name = self.routes[task_type]
        return self._message(
            actor_name, queue_name, payload, {"task_id": envelope["taskId"]}, {"envelope": envelope}
        )

    def reject(
        self, error: PermanentError, envelope: dict[str, Any], raw: bytes, payload: Any = None
    ) -> MessageData:
        """A message for the rejection actor carrying ``error``'s code and text."""
        envelope = {"taskId": str(uuid.uuid4()), "taskType": None, "timestamp": None, **envelope}
        kwargs = {
            "task_id": envelope["taskId"],
            "code": error.code,
            "error": str(error),
            "size": len(raw),
        }
        actor_name, queue_name = self.routes.get(_REJECT_ROUTE, (REJECT_ACTOR, "default"))
        payload = payload if isinstance(payload, dict) else {}
        return self._message(actor_name, queue_name, payload, kwargs, {"envelope": envelope})

    @staticmethod
    def _message(
        actor_name: str, queue_name: str, payload: Any, kwargs: dict[str, Any], options: dict[str, Any]
    ) -> MessageData:
        return {
            "queue_name": queue_name,
            "actor_name": actor_name,
            "args": [payload],
            "kwargs": kwargs,
            "options": options,
            "message_id": message_id_for(options["envelope"]["taskId"]),
            "message_timestamp": int(time.time() * 1000),
        }


def usable_task_id(value: Any) -> str | None:
    """A ``taskId`` as text: a string of 1 to ``MAX_TASK_ID_CHARS`` characters, or a number; else ``None``."""
    if isinstance(value, str):
        return value if 0 < len(value) <= MAX_TASK_ID_CHARS else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


class EnvelopeDecoding(Middleware):
    """Declares the ``task_type`` actor option and routes envelopes to the actor that declared it.

    The actor named ``REJECT_ACTOR`` receives the bodies that no pipeline can take.
    """

    def __init__(self) -> None:
        self.routes: dict[str, tuple[str, str]] = {}
        self.actors: dict[str, DeclaredActor] = {}
        self.encoder = EnvelopeEncoder(self.routes, self.actors)

    @property
    def actor_options(self) -> set[str]:
        """Options this middleware adds to ``dramatiq.actor``."""
        return {"task_type"}

    def after_declare_actor(self, broker: dramatiq.Broker, actor: dramatiq.Actor[Any, Any]) -> None:
        """Record the actor (for decoding) and its ``taskType``; two actors may not claim the same one."""
        self.actors[actor.actor_name] = DeclaredActor(
            actor.queue_name, inspect.signature(actor.fn, follow_wrapped=False)
        )
        if actor.actor_name == REJECT_ACTOR:
            self.routes[_REJECT_ROUTE] = (actor.actor_name, actor.queue_name)
        task_type = actor.options.get("task_type")
        if not task_type:
            return
        claimed = self.routes.get(task_type)
        if claimed and claimed[0] != actor.actor_name:
            raise ValueError(f"taskType {task_type!r} is already served by {claimed[0]!r}")
        self.routes[str(task_type)] = (actor.actor_name, actor.queue_name)
