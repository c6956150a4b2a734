"""A Faust producer whose ``flush()`` waits for every buffered message.

Why: Faust commits a batch's input offsets only after ``producer.flush()``, so that the
table changelog records written while processing it are on the broker first. In
faust-streaming 0.11 - 0.15 ``ProducerBuffer.flush()`` gives up after any 0.1 s without a
message sent, and does not count the message it is sending right now. Under load (the
"producer buffer full" warnings) the offsets were committed while changelog records
were still in the buffer, and a worker killed at that moment lost them: a worker
restarted from memory:// state missed events it had committed (found by
``tests/integration/test_restart.py`` on a loaded machine). Here ``flush()`` returns
only when the buffer is empty *and* nothing is in flight to the Kafka client, whose own
``flush()`` Faust awaits next.
"""

from __future__ import annotations

import asyncio
from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.transport.producer import ProducerBuffer
from faust.types import FutureMessage


class DurableProducerBuffer(ProducerBuffer):
    """``ProducerBuffer`` whose ``flush()`` drains it completely."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.in_flight = 0  # taken from the queue, not yet handed to the Kafka client

    async def _send_pending(self, fut: FutureMessage) -> None:
        self.in_flight += 1
        try:
            await super()._send_pending(fut)
        finally:
            self.in_flight -= 1

    async def flush(self) -> None:
        """Wait until every message put so far has reached the Kafka client."""
        while (self.size or self.in_flight) and not self.should_stop:
            if self.size:
                await self.flush_atmost(None)
            else:
                await asyncio.sleep(0.005)


class Producer(faust_aiokafka.Producer):
    """Faust's aiokafka producer with :class:`DurableProducerBuffer`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.app.conf.producer_threaded:
            buffer = DurableProducerBuffer(loop=self.loop, beacon=self.beacon)
            buffer.app = self.app
            self.buffer = buffer
