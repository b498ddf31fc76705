"""moto's SQS with each queue operation atomic, as it is on SQS; run as a script, a ``moto_server``.

moto 5.2 reads and changes a queue's messages without a lock. Under concurrent requests this makes
faults of its own, which the tests and the soak would otherwise blame on the worker:

- two receives at once can both take one message (``visible`` is checked, then the message marked
  received): a second delivery to another worker, with no worker dying;
- a delete rebuilds the message list from a copy taken before it: a delete or a receive's move to the
  dead-letter queue running alongside resurrects a deleted message (it comes back after its visibility
  timeout and is answered again), and a send running alongside is lost.

``make_sqs_atomic`` runs receive, delete and visibility changes under the queue's own lock (moto's
``Condition``, the one a send already takes; a long poll's wait releases it). ``python
tests/atomic_moto.py -H 127.0.0.1 -p PORT`` is ``moto_server`` with the change made.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

#: The SQS backend's methods that read a queue's messages and change them.
ATOMIC_METHODS = ("receive_message", "delete_message", "change_message_visibility")


def _under_queue_lock(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(self: Any, queue_name: str, *args: Any, **kwargs: Any) -> Any:
        with self.get_queue(queue_name)._messages_lock:
            return method(self, queue_name, *args, **kwargs)

    call.__atomic__ = True  # type: ignore[attr-defined]
    return call


def make_sqs_atomic() -> None:
    """Make moto's SQS queue operations atomic in this process (idempotent)."""
    from moto.sqs.models import SQSBackend

    for name in ATOMIC_METHODS:
        method = getattr(SQSBackend, name)
        if not getattr(method, "__atomic__", False):
            setattr(SQSBackend, name, _under_queue_lock(method))


if __name__ == "__main__":
    from moto.server import main

    make_sqs_atomic()
    main(sys.argv[1:])
