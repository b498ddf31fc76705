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
lone surrogates are replaced so that every answer can be written as UTF-8. Stub, Redis and SQS
consumers all decode through ``EnvelopeEncoder.decode``.
"""

from __future__ import annotations

import inspect
import json
import re
import time
import uuid
from typing import Any, NamedTuple

import dramatiq
import structlog
from dramatiq.common import dq_name
from dramatiq.encoder import Encoder, MessageData
from dramatiq.middleware import Middleware

from core.errors import InvalidJSON, InvalidPayload, PermanentError, UnknownTaskType

logger = structlog.get_logger(__name__)

#: The actor that answers bodies no pipeline can take.
REJECT_ACTOR = "reject_envelope"
#: The routing key of the rejection actor (no real taskType is empty).
_REJECT_ROUTE = ""
#: Namespace of message ids derived from task ids.
_TASK_NAMESPACE = uuid.UUID("6f1c2f0e-9b7a-4f57-9d38-3f0b2a7c5e11")
#: The option by which Dramatiq's Redis broker acknowledges a message (the key of its stored body).
REDIS_RECEIPT = "redis_message_id"
#: The largest body read (SQS's own limit is 1 MiB); a larger one is rejected unread.
MAX_BODY_BYTES = 1024 * 1024
#: The longest ``taskId`` (it is echoed in the answer and names result objects).
MAX_TASK_ID_CHARS = 512
#: The deepest nesting of objects and arrays read (real bodies nest about 5 deep).
MAX_DEPTH = 64
#: A JSON escape of a UTF-16 surrogate: only these can put a lone surrogate into a decoded string.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
#: The fields of a Dramatiq message and their JSON types.
_MESSAGE_FIELDS: dict[str, type | tuple[type, ...]] = {
    "queue_name": str,
    "actor_name": str,
    "args": list,
    "kwargs": dict,
    "options": dict,
    "message_id": str,
    "message_timestamp": int,
}
#: Message options read by Dramatiq's middleware, Sentry's and ours, and the JSON types they must have.
_OPTION_TYPES: dict[str, type | tuple[type, ...]] = {
    **dict.fromkeys(
        ("retries", "max_retries", "min_backoff", "max_backoff", "time_limit", "max_age", "eta", "delay"), int
    ),
    "requeue_timestamp": int,
    **dict.fromkeys(("traceback", "redis_message_id", "failure", "group_completion_uuid"), str),
    **dict.fromkeys(("on_success", "on_failure", "on_retry_exhausted"), str),
    **dict.fromkeys(("store_results", "pipe_ignore", "notify_shutdown"), bool),
    **dict.fromkeys(("envelope", "_sentry_headers"), dict),
}
#: The largest value of a numeric option (a day, in milliseconds, for times): no body holds a worker longer.
_OPTION_MAXIMA = {"max_retries": 100, "retries": 10_000}
_DAY_MS = 86_400_000
#: Options that name code or other messages: never accepted from a body.
_FORBIDDEN_OPTIONS = frozenset(("throws", "retry_when", "pipe_target", "group_completion_callbacks"))


def message_id_for(task_id: str) -> str:
    """The Dramatiq message id of a backend task: stable across redeliveries."""
    return str(uuid.uuid5(_TASK_NAMESPACE, task_id))


def envelope_of(message: dramatiq.Message[Any] | dramatiq.MessageProxy) -> dict[str, Any]:
    """The envelope metadata (``taskId``, ``taskType``, ``timestamp``) a message carries, if any."""
    envelope = message.options.get("envelope")
    return envelope if isinstance(envelope, dict) else {}


def parse_body(data: bytes) -> Any:
    """``data`` as a JSON value that is safe to pass on; ``InvalidJSON`` if it cannot be.

    Bounded in size and depth (``MAX_BODY_BYTES``, ``MAX_DEPTH``), strict JSON (no ``NaN``), and
    lone UTF-16 surrogates (which no UTF-8 writer accepts) replaced by ``?``.
    """
    if len(data) > MAX_BODY_BYTES:
        raise InvalidJSON(f"message body of {len(data)} bytes exceeds the {MAX_BODY_BYTES} allowed")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidJSON("message body is not UTF-8") from None
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except RecursionError:
        raise InvalidJSON(f"message body is nested more than {MAX_DEPTH} levels deep") from None
    except ValueError:
        raise InvalidJSON("message body is not valid JSON") from None
    if nesting_depth(value) > MAX_DEPTH:
        raise InvalidJSON(f"message body is nested more than {MAX_DEPTH} levels deep")
    if _SURROGATE_ESCAPE.search(text):
        value = json.loads(json.dumps(value, ensure_ascii=False).encode("utf-8", "replace"))
    return value


def nesting_depth(value: Any) -> int:
    """How deeply objects and arrays nest in ``value`` (a scalar is 0); without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if depth <= MAX_DEPTH:
                children = item.values() if isinstance(item, dict) else item
                stack.extend((child, depth + 1) for child in children)
    return deepest


def option_problem(name: str, value: Any) -> str | None:
    """What makes ``value`` unfit for the message option ``name``, or ``None``."""
    if name in _FORBIDDEN_OPTIONS:
        return f"option {name!r} is not accepted"
    kind = _OPTION_TYPES.get(name)
    if kind is None:
        return None  # read by nobody
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        return f"option {name!r} has the wrong type"
    if isinstance(value, int) and not 0 <= value <= _option_maximum(name):
        return f"option {name!r} is out of range"
    if (
        name == "envelope"
        and isinstance(value, dict)
        and not (isinstance(value.get("taskId", ""), str) and isinstance(value.get("taskType"), str | None))
    ):
        return "option 'envelope' is malformed"
    if (
        name == "_sentry_headers"
        and isinstance(value, dict)
        and not all(isinstance(v, str) for v in value.values())
    ):
        return "option '_sentry_headers' is malformed"
    return None


def _option_maximum(name: str) -> int:
    if name in ("eta", "requeue_timestamp"):
        return int(time.time() * 1000) + _DAY_MS  # an eta at most a day ahead
    return _OPTION_MAXIMA.get(name, _DAY_MS)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    number = float(text)
    if number in (float("inf"), float("-inf")):
        raise ValueError("a number too large for a float")
    return number


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
        for name, kind in _MESSAGE_FIELDS.items():
            value = body.get(name)
            if name not in body or not isinstance(value, kind) or isinstance(value, bool):
                return f"field {name!r} is missing or not a {getattr(kind, '__name__', kind)}"
        if extra := set(body) - set(_MESSAGE_FIELDS):
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
