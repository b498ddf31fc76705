"""The Redis broker (local runs): Dramatiq's, with consumers that wait for a free slot.

Everything else is Dramatiq's ``RedisBroker``: the backend's envelopes are decoded by the encoder every
broker shares (``middleware/envelope.py``) and answers go to a Redis list (``adapters/sinks.py``).
"""

from __future__ import annotations

from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer

from brokers.slots import FreeSlots


class EnvelopeRedisConsumer(_RedisConsumer):
    """Dramatiq's Redis consumer, except that while every prefetch slot is held it waits for one
    to free (``FreeSlots``) instead of sleeping with a backoff that grows to the worker timeout."""

    def __init__(self, broker: EnvelopeRedisBroker, *args: Any) -> None:
        super().__init__(broker, *args)
        self.slots = broker.slots
        self.full_misses = 0

    def __next__(self) -> dramatiq.MessageProxy | None:
        free = self.prefetch - self.outstanding_message_count
        if not self.message_cache and not self.slots.worth_fetching(free, self.prefetch, self.full_misses):
            self.full_misses = self.slots.wait(self.full_misses)
            return None  # the consumer thread loops, then asks again
        message: dramatiq.MessageProxy | None = super().__next__()
        return message


class EnvelopeRedisBroker(RedisBroker):
    """Dramatiq's ``RedisBroker`` whose worker threads wake its consumers when they acknowledge."""

    def __init__(self, **parameters: Any) -> None:
        super().__init__(**parameters)
        self.slots = FreeSlots()

    @property
    def consumer_class(self) -> type[EnvelopeRedisConsumer]:
        """The slot-aware consumer."""
        return EnvelopeRedisConsumer

    def emit_after(self, signal: str, *args: Any, **kwargs: Any) -> None:
        """Besides the middleware: an acknowledged (or rejected) message has freed its slot."""
        super().emit_after(signal, *args, **kwargs)
        if signal in ("ack", "nack"):
            self.slots.freed()
