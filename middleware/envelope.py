"""Envelope decoding: the backend's plain JSON envelopes become Dramatiq messages.

An actor declares the request ``taskType`` it serves with the ``task_type`` actor option; this
middleware keeps the resulting routing table. Its ``EnvelopeEncoder`` (installed as Dramatiq's
global encoder) reads every message body from any broker:

- a Dramatiq message (retries, internal enqueues) decodes as usual;
- a backend envelope becomes a message for the actor of its ``taskType``: the payload is the
  argument and ``task_id`` the keyword argument, the envelope's ``taskId``/``taskType``/``timestamp``
  travel in ``options["envelope"]`` for the middleware, and the message id is derived from the
  ``taskId`` so a redelivery keeps its identity;
- anything else (not JSON, not an object, no or an unknown ``taskType``) becomes a message for the
  rejection actor, which answers it ``FAILED`` with the reason's ``errorCode``; it is never retried.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import dramatiq
from dramatiq.encoder import Encoder, MessageData
from dramatiq.middleware import Middleware

from core.errors import InvalidJSON, PermanentError, UnknownTaskType

#: The actor that answers bodies no pipeline can take.
REJECT_ACTOR = "reject_envelope"
#: The routing key of the rejection actor (no real taskType is empty).
_REJECT_ROUTE = ""
#: Namespace of message ids derived from task ids.
_TASK_NAMESPACE = uuid.UUID("6f1c2f0e-9b7a-4f57-9d38-3f0b2a7c5e11")


def message_id_for(task_id: str) -> str:
    """The Dramatiq message id of a backend task: stable across redeliveries."""
    return str(uuid.uuid5(_TASK_NAMESPACE, task_id))


def envelope_of(message: dramatiq.Message[Any] | dramatiq.MessageProxy) -> dict[str, Any]:
    """The envelope metadata (``taskId``, ``taskType``, ``timestamp``) a message carries, if any."""
    envelope = message.options.get("envelope")
    return envelope if isinstance(envelope, dict) else {}


class EnvelopeEncoder(Encoder):
    """Encodes Dramatiq messages as JSON; decodes them and raw backend envelopes alike."""

    def __init__(self, routes: dict[str, tuple[str, str]]) -> None:
        self.routes = routes

    def encode(self, data: MessageData) -> bytes:
        """A Dramatiq message as compact JSON."""
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    def decode(self, data: bytes) -> MessageData:
        """Any body into message fields; never raises."""
        try:
            body = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return self.reject(InvalidJSON("message body is not valid JSON"), {}, data)
        if not isinstance(body, dict):
            return self.reject(InvalidJSON("message body is not a JSON object"), {}, data)
        if "actor_name" in body and "message_id" in body:
            return body
        return self.route(body, data)

    def route(self, body: dict[str, Any], raw: bytes) -> MessageData:
        """A backend envelope into a message for its actor."""
        task_type = body.get("taskType")
        envelope = {
            "taskId": str(body.get("taskId") or uuid.uuid4()),
            "taskType": task_type if isinstance(task_type, str) else None,
            "timestamp": body.get("timestamp"),
        }
        payload = body.get("payload")
        if not isinstance(task_type, str) or not task_type:
            error = UnknownTaskType(
                "envelope has no taskType" + (" (found 'type')" if "type" in body else "")
            )
            return self.reject(error, envelope, raw, payload)
        if task_type not in self.routes:
            return self.reject(UnknownTaskType(f"unsupported taskType {task_type!r}"), envelope, raw, payload)
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


class EnvelopeDecoding(Middleware):
    """Declares the ``task_type`` actor option and routes envelopes to the actor that declared it.

    The actor named ``REJECT_ACTOR`` receives the bodies that no pipeline can take.
    """

    def __init__(self) -> None:
        self.routes: dict[str, tuple[str, str]] = {}
        self.encoder = EnvelopeEncoder(self.routes)

    @property
    def actor_options(self) -> set[str]:
        """Options this middleware adds to ``dramatiq.actor``."""
        return {"task_type"}

    def after_declare_actor(self, broker: dramatiq.Broker, actor: dramatiq.Actor[Any, Any]) -> None:
        """Record the actor's ``taskType``; two actors may not claim the same one."""
        if actor.actor_name == REJECT_ACTOR:
            self.routes[_REJECT_ROUTE] = (actor.actor_name, actor.queue_name)
        task_type = actor.options.get("task_type")
        if not task_type:
            return
        claimed = self.routes.get(task_type)
        if claimed and claimed[0] != actor.actor_name:
            raise ValueError(f"taskType {task_type!r} is already served by {claimed[0]!r}")
        self.routes[str(task_type)] = (actor.actor_name, actor.queue_name)
