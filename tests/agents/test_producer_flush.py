"""``flush()`` returns only once every buffered message has reached the Kafka client."""

from __future__ import annotations

import asyncio
import contextlib
from types import SimpleNamespace

from faust.transport.producer import ProducerBuffer

from agents.producer_flush import DurableProducerBuffer


class SlowChannel:
    """A channel whose sends take longer than Faust's 0.1 s flush patience."""

    def __init__(self) -> None:
        self.published: list[object] = []

    async def publish_message(self, fut: object, wait: bool = False) -> None:
        await asyncio.sleep(0.3)
        self.published.append(fut)


async def _sent_when_flush_returns(buffer_class: type[ProducerBuffer]) -> int:
    buffer = buffer_class()
    buffer.app = SimpleNamespace(conf=SimpleNamespace(producer_threaded=False))
    channel = SlowChannel()
    await buffer.start()
    try:
        for _ in range(3):
            buffer.put(SimpleNamespace(message=SimpleNamespace(channel=channel)))
        await buffer.flush()
        return len(channel.published)
    finally:
        with contextlib.suppress(RuntimeError):  # Faust's on_stop flush of what is left
            await buffer.stop()


def test_durable_flush_waits_for_every_message():
    assert asyncio.run(_sent_when_flush_returns(DurableProducerBuffer)) == 3


def test_faust_stock_flush_returns_early():
    """Why the subclass exists; if this starts failing, Faust fixed it upstream."""
    assert asyncio.run(_sent_when_flush_returns(ProducerBuffer)) < 3
