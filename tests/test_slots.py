"""Free slots: consumers whose prefetch is full are woken when a message ends (``brokers/slots.py``)."""

from __future__ import annotations

import threading
from typing import Any

import dramatiq
import redis

from brokers.redis import EnvelopeRedisBroker, EnvelopeRedisConsumer
from brokers.slots import _MAX_MISSES, FreeSlots

REDIS_URL = "redis://127.0.0.1:6379/13"


def test_a_wait_is_woken_by_a_freed_slot_and_grows_only_while_nothing_ends() -> None:
    slots = FreeSlots()
    assert slots.wait(0) == 1  # nothing ended: timed out
    assert slots.wait(_MAX_MISSES) == _MAX_MISSES  # the wait stops growing
    slots.freed()
    assert slots.wait(_MAX_MISSES) == 0  # woken: the next wait starts short again
    woken: list[int] = []
    waiter = threading.Thread(target=lambda: woken.append(slots.wait(_MAX_MISSES)))
    waiter.start()
    slots.freed()
    waiter.join(timeout=30)
    assert woken == [0]


def test_a_full_redis_consumer_waits_for_a_slot_and_an_acknowledgement_frees_it() -> None:
    broker = EnvelopeRedisBroker(url=REDIS_URL)
    try:
        processed: list[int] = []

        @dramatiq.actor(broker=broker, queue_name="slots")
        def noop(value: int) -> None:
            processed.append(value)

        consumer = broker.consume("slots", prefetch=1, timeout=100)
        assert isinstance(consumer, EnvelopeRedisConsumer)
        consumer.queued_message_ids.add("held")  # one message held: the only slot is taken
        assert next(consumer) is None  # no fetch while full
        message: Any = dramatiq.Message(
            queue_name="slots", actor_name="noop", args=(1,), kwargs={}, options={}
        )
        broker.emit_after("ack", message)  # a worker thread acknowledges a message
        assert consumer.slots.wait(_MAX_MISSES) == 0  # ... and the consumers are woken
    finally:
        redis.Redis.from_url(REDIS_URL).flushdb()
        broker.close()


def test_one_or_two_slots_fetch_at_once_and_more_wait_for_half_of_them() -> None:
    assert FreeSlots.worth_fetching(1, 1, 0) and FreeSlots.worth_fetching(1, 2, 0)
    assert not FreeSlots.worth_fetching(0, 2, 5)  # nothing free: never
    assert not FreeSlots.worth_fetching(1, 8, 0)  # one of eight, just woken: wait for more
    assert FreeSlots.worth_fetching(1, 8, 1)  # ... unless that wait timed out
    assert FreeSlots.worth_fetching(4, 8, 0)
