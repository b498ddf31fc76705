"""Result sinks: where answers and progress messages go (the backend's result queue in production)."""

from __future__ import annotations

import threading
from typing import Any, Protocol


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
