"""A Faust consumer that never lets a rebalance commit past events nobody processed.

Why: during a rebalance faust-streaming's stream loop *skips* the events still queued
for it (flow control is suspended, or the event belongs to a generation that is over)
and acks them, so that lag does not grow. The consumer records those acks, and the
commit made while partitions are revoked (``wait_empty``) moves the group's offset past
them. After the rebalance the partitions resume from that offset, so the skipped events
are never processed. (Found by reading faust-streaming 0.15's ``Stream._c_aiter`` and
``Consumer.wait_empty`` while looking for why a SIGKILL restart run ended 43 events
short; the window is narrow and ``tests/integration/test_rebalance.py`` has not hit it
with or without this class, so it is a guard, not a proven cause.)

Here an ack is recorded only for an event of the current generation while flow control
is active. Any other ack marks the message done, so Faust's waits for acks still end,
but does not make its offset committable. The partition then resumes at or before the
event, and it is applied again; de-duplication by ``event_id`` makes that harmless.
"""

from __future__ import annotations

from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types.tuples import ack_lock
from mode.utils.futures import notify


def committable(message: Any, generation_id: int | None, flowing: bool) -> bool:
    """May the offset of ``message``, just acked, be committed?

    >>> from types import SimpleNamespace as Msg
    >>> committable(Msg(generation_id=3), 3, True)
    True
    >>> committable(Msg(generation_id=2), 3, True)   # from a generation that is over
    False
    >>> committable(Msg(generation_id=3), 3, False)  # acked while a rebalance runs
    False
    """
    return flowing and message.generation_id == generation_id


class Consumer(faust_aiokafka.Consumer):
    """Faust's aiokafka consumer whose commits skip acks made during a rebalance."""

    def ack(self, message: Any) -> bool:
        app = self.app
        if committable(message, app.consumer_generation_id, app.flow_control.is_active()):
            return super().ack(message)
        with ack_lock:
            if message.acked:
                return False
            message.acked = True
            self._unacked_messages.discard(message)
        notify(self._waiting_for_ack)
        return False
