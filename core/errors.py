"""Errors that decide how a task is answered.

A ``PermanentError`` is the request's fault: it is answered ``FAILED`` with its ``code`` at once and
never retried. Anything else is treated as transient and retried with backoff; once the retries are
spent it is answered ``FAILED`` with ``INTERNAL`` (or the ``code`` of a ``TransientError``).
"""

from __future__ import annotations


class TaskError(Exception):
    """Base of the worker's own errors; ``code`` is the result's ``errorCode``."""

    code = "INTERNAL"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class PermanentError(TaskError):
    """The request cannot succeed however often it is tried."""


class InvalidJSON(PermanentError):
    """The message body is not a JSON object."""

    code = "INVALID_JSON"


class UnknownTaskType(PermanentError):
    """The envelope has no ``taskType`` or one this worker does not serve."""

    code = "UNKNOWN_TASK_TYPE"


class InvalidPayload(PermanentError):
    """The payload does not validate against the request model."""

    code = "INVALID_PAYLOAD"


class InputNotFound(PermanentError):
    """The input object or prefix does not exist or is empty."""

    code = "INPUT_NOT_FOUND"


class InvalidInput(PermanentError):
    """The input exists but holds nothing the pipeline can use."""

    code = "INVALID_INPUT"


class InputTooLarge(PermanentError):
    """The input exceeds the configured size bound."""

    code = "INPUT_TOO_LARGE"


class TransientError(TaskError):
    """An outside service failed in a way that may pass (network, throttling, 5xx)."""

    code = "TRANSIENT"


def error_code(error: BaseException) -> str:
    """The ``errorCode`` that answers ``error``."""
    return error.code if isinstance(error, TaskError) else "INTERNAL"
