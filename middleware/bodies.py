"""Reading untrusted message bodies: bounded, strict JSON, and the checks on a Dramatiq-shaped body's
fields and options before it may become a message. Nothing here raises anything but ``InvalidJSON``
(``parse_body``) or returns anything but a reason (``option_problem``).
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from core.errors import InvalidJSON

#: The largest body read (SQS's own limit is 1 MiB); a larger one is rejected unread.
MAX_BODY_BYTES = 1024 * 1024
#: The deepest nesting of objects and arrays read (real bodies nest about 5 deep).
MAX_DEPTH = 64
#: A JSON escape of a UTF-16 surrogate: only these can put a lone surrogate into a decoded string.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
#: The fields of a Dramatiq message and their JSON types.
MESSAGE_FIELDS: dict[str, type | tuple[type, ...]] = {
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
    # Every level opens with a bracket: a body with few of them cannot nest deeper (the common case).
    if text.count("{") + text.count("[") > MAX_DEPTH and nesting_depth(value) > MAX_DEPTH:
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
