"""``task_actor``: declares the actor that serves one backend ``taskType``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import dramatiq
from pydantic import BaseModel, ValidationError

from actors.broker import MAX_RETRIES, QUEUE
from core.errors import InvalidPayload, PermanentError
from models.envelope import TaskType
from models.results import ResultPayload

R = TypeVar("R", bound=BaseModel)

#: Time limit of one task (graph generation of a very large history is the longest).
DEFAULT_TIME_LIMIT_MS = 60 * 60 * 1000


def describe_validation_error(error: ValidationError) -> str:
    """A short description of what is wrong, without echoing any input value."""
    problems = []
    for item in error.errors(include_input=False, include_url=False):
        where = ".".join(str(part) for part in item["loc"]) or "payload"
        problems.append(f"{where}: {item['msg']}")
    return "invalid payload: " + "; ".join(problems)


def task_actor(
    task_type: TaskType, request_model: type[R], *, time_limit: int = DEFAULT_TIME_LIMIT_MS
) -> Callable[[Callable[[R, str], ResultPayload]], dramatiq.Actor[Any, Any]]:
    """Declare ``fn(request, task_id)`` as the actor for ``task_type``.

    The payload is validated into ``request_model`` before ``fn`` runs; a payload that does not
    validate fails the task at once with ``INVALID_PAYLOAD``. ``PermanentError`` is never retried.
    """

    def decorator(fn: Callable[[R, str], ResultPayload]) -> dramatiq.Actor[Any, Any]:
        @functools.wraps(fn)
        def run(payload: Any, task_id: str) -> ResultPayload:
            try:
                request = request_model.model_validate(payload)
            except ValidationError as error:
                raise InvalidPayload(describe_validation_error(error)) from None
            return fn(request, task_id)

        declare = dramatiq.actor(
            actor_name=fn.__name__,
            queue_name=QUEUE,
            task_type=task_type.value,
            throws=(PermanentError,),
            max_retries=MAX_RETRIES,
            time_limit=time_limit,
        )
        return declare(run)

    return decorator
