"""The SQS stand-in the tests and the soak use delivers each message once and keeps every delete.

Without ``make_sqs_atomic``, moto 5.2 does neither under concurrent receives and deletes (measured:
1-2 of 2,000 messages delivered twice and 10-28 deleted ones left in the queue per run), and the soak
counted those as the worker's duplicate answers.
"""

from __future__ import annotations

import sys
import threading
import uuid
from collections import Counter
from collections.abc import Iterator

import pytest

from atomic_moto import make_sqs_atomic

MESSAGES = 600
THREADS = 4


@pytest.fixture
def fast_switching() -> Iterator[None]:
    """Switch threads as often as the interpreter can: the races need a switch at the wrong bytecode."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


def test_concurrent_receivers_get_each_message_once_and_deletes_hold(fast_switching: None) -> None:
    from moto.sqs.models import sqs_backends

    make_sqs_atomic()
    backend = sqs_backends["123456789012"]["us-east-1"]
    name = f"atomic-{uuid.uuid4().hex[:8]}"
    backend.create_queue(name)
    for i in range(MESSAGES):
        backend.send_message(name, f"m{i}")
    received: Counter[str] = Counter()
    counting = threading.Lock()

    def consume() -> None:
        while messages := backend.receive_message(name, 2, 0, 300):
            for message in messages:
                with counting:
                    received[message.body] += 1
                backend.delete_message(name, str(message.receipt_handle))

    threads = [threading.Thread(target=consume) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(received) == MESSAGES
    assert [body for body, count in received.items() if count > 1] == []
    assert backend.get_queue(name)._messages == []
    backend.delete_queue(name)
