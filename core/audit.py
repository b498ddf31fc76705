"""Audit events: every call to an outside service and every pipeline stage, timed and logged.

``audit.success`` or ``audit.error`` (exception type and redacted message) with ``duration_ms`` when
it ends, at INFO and WARNING: one line per call. ``audit.start`` when it begins is at DEBUG (a call
that hangs shows there; a message makes a handful of calls, and a line is most of what a cheap call
costs). The correlation context of the message rides along as on every log line. ``audit_calls`` applies the audit to an adapter's methods in one place, where the
adapter is built (``services.py``, ``adapters.llm.llm_from_settings``), not at each call site.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import structlog

from core.logs import redact_text

logger = structlog.get_logger(__name__)

T = TypeVar("T")

#: Longest error text in an audit event.
ERROR_TEXT_LIMIT = 300


class Audit:
    """One audited operation: ``kind`` of service (``blob_store``, ``llm``, ``stage``...) and ``name``."""

    def __init__(self, kind: str, name: str) -> None:
        self.kind = kind
        self.name = name
        self.started = time.perf_counter()

    @property
    def duration_ms(self) -> float:
        """Milliseconds since the start."""
        return round((time.perf_counter() - self.started) * 1000, 3)

    def start(self) -> Audit:
        """Log ``audit.start`` (DEBUG) and start the clock."""
        self.started = time.perf_counter()
        logger.debug("audit.start", kind=self.kind, name=self.name)
        return self

    def success(self) -> None:
        """Log ``audit.success``."""
        logger.info("audit.success", kind=self.kind, name=self.name, duration_ms=self.duration_ms)

    def error(self, error: BaseException | str) -> None:
        """Log ``audit.error`` with the error's type and redacted message."""
        error_type = type(error).__name__ if isinstance(error, BaseException) else "Failure"
        logger.warning(
            "audit.error",
            kind=self.kind,
            name=self.name,
            duration_ms=self.duration_ms,
            error_type=error_type,
            error=redact_text(str(error))[:ERROR_TEXT_LIMIT],
        )


@contextmanager
def audited(kind: str, name: str) -> Iterator[Audit]:
    """Audit the enclosed block; an exception is logged as ``audit.error`` and raised again."""
    audit = Audit(kind, name).start()
    try:
        yield audit
    except BaseException as error:
        audit.error(error)
        raise
    audit.success()


def _audited_method(
    method: Callable[..., Any], kind: str, name: str, failed: Callable[[Any], bool] | None
) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        audit = Audit(kind, name).start()
        try:
            result = method(self, *args, **kwargs)
        except BaseException as error:
            audit.error(error)
            raise
        if failed is not None and failed(result):
            audit.error("no usable result")
        else:
            audit.success()
        return result

    return call


_classes: dict[tuple[type, str, tuple[str, ...]], type] = {}


def audit_calls(
    target: T, kind: str, methods: Iterable[str], *, failed: Callable[[Any], bool] | None = None
) -> T:
    """``target`` with each of ``methods`` audited; the object keeps its class (a subclass of it).

    ``failed(result)``, if given, marks a result that is a failure although nothing was raised (for
    clients that never raise).
    """
    cls = type(target)
    if getattr(cls, "__audited__", False):
        return target
    names = tuple(methods)
    key = (cls, kind, names)
    if key not in _classes:
        namespace: dict[str, Any] = {"__slots__": (), "__audited__": True, "__module__": cls.__module__}
        for name in names:
            namespace[name] = _audited_method(getattr(cls, name), kind, name, failed)
        _classes[key] = type(cls.__name__, (cls,), namespace)
    target.__class__ = _classes[key]
    return target
