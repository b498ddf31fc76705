"""Free slots: a consumer whose prefetch is full waits for a worker thread to finish a message.

A consumer holds at most its prefetch of messages (the worker's threads: ``middleware/concurrency.py``).
While every slot is held it has nothing to do but wait for one to free. Dramatiq's consumers then sleep
with a backoff that grows to a second (SQS) or to the worker timeout (Redis), so a finished message's
slot can stay empty for that long: a queued task waits although a thread is idle, and short tasks run
at a fraction of the threads' pace. Here the broker wakes its consumers as soon as a worker thread has
acknowledged (or rejected) a message, which frees its slot. The wait still times out, starting at a
millisecond and doubling up to a second: two wake-ups can merge into one, and a timed-out wait is
what a consumer does while nothing ends. A consumer with many slots fetches once half of them are free
(or a wait for more timed out), not once per acknowledgement.
"""

from __future__ import annotations

import threading

#: The first wait, in seconds, after a wake-up (or the first time every slot is held).
FIRST_WAIT_SECONDS = 0.001
#: The longest wait, in seconds, while no message ends.
MAX_WAIT_SECONDS = 1.0
#: Timed-out waits in a row after which the wait stops growing (0.001 * 2**10 > 1 s).
_MAX_MISSES = 10


class FreeSlots:
    """The wake-up call between a broker's worker threads and its consumers."""

    @staticmethod
    def worth_fetching(free: int, capacity: int, misses: int) -> bool:
        """Whether a consumer with ``free`` of its ``capacity`` slots free should fetch now: when half of
        them are free, or as soon as a wait for more has timed out (``misses``). With one or two slots,
        one free slot is enough; with more, a fetch per acknowledgement would cost a round trip each."""
        return free > 0 and (2 * free >= capacity or misses > 0)

    def __init__(self) -> None:
        self._freed = threading.Event()

    def freed(self) -> None:
        """A worker thread acknowledged or rejected a message: wake the consumers."""
        self._freed.set()

    def wait(self, misses: int) -> int:
        """Wait until a slot frees, or time out; ``misses`` is the number of waits in a row that timed
        out so far, and the result the new number (0 after a wake-up)."""
        woken = self._freed.wait(min(MAX_WAIT_SECONDS, FIRST_WAIT_SECONDS * 2**misses))
        self._freed.clear()
        return 0 if woken else min(misses + 1, _MAX_MISSES)
