"""A Faust transport that reads changelog end offsets from a fetch, not from ListOffsets.

Why: a recovering worker rebuilds each table by reading its changelog up to the end
offset the broker reports. The embedded Tansu broker answers ListOffsets with the first
offset of the *last record batch* + 1 instead of the true end, so with batched changelog
writes a worker restarted after a crash stopped short and silently lost the tail of its
state: events it had processed and committed were missing from its totals (found by
``tests/integration/test_restart.py``). A Fetch response carries the true high watermark
on every broker, so before recovery we also fetch once near the reported end and keep
the larger of the two answers. On Apache Kafka both agree and the cost is one short
fetch per rebalance. Transactions (``exactly_once``) keep Faust's own path: there the
end is the last stable offset, which only the group consumer knows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

PROBE_TIMEOUT_S = 5.0


async def fetched_ends(
    consumer: AIOKafkaConsumer, reported: Mapping[TP, int], timeout_s: float = PROBE_TIMEOUT_S,
) -> dict[TP, int]:
    """The end offset of each partition: the larger of ``reported`` and a fetch's watermark.

    ``consumer`` must be started and belong to no group; it is assigned the non-empty
    partitions and seeks just before their reported end, where a record is sure to exist.
    Partitions whose fetch does not answer within ``timeout_s`` keep the reported value.
    """
    ends = {tp: int(end) if end is not None else 0 for tp, end in reported.items()}
    probe = {TopicPartition(tp.topic, tp.partition): tp for tp, end in ends.items() if end > 0}
    if not probe:
        return ends
    consumer.assign(list(probe))
    for tp, original in probe.items():
        consumer.seek(tp, ends[original] - 1)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    waiting = set(probe)
    while waiting and loop.time() < deadline:
        await consumer.getmany(*waiting, timeout_ms=200)
        for tp in list(waiting):
            watermark = consumer.highwater(tp)
            if watermark is not None:
                ends[probe[tp]] = max(ends[probe[tp]], watermark)
                waiting.discard(tp)
    return ends


class ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """Faust's aiokafka consumer thread with end offsets confirmed by a fetch."""

    async def _highwaters(self, partitions: Iterable[TP]) -> Mapping[TP, int]:
        reported = await super()._highwaters(partitions)
        if self.consumer.in_transaction or not any(reported.values()):
            return reported
        probe = self._create_client_consumer(self.transport)
        await probe.start()
        try:
            return await fetched_ends(probe, reported)
        finally:
            await probe.stop()


class Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> ConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(faust_aiokafka.Transport):
    """Use as the app's transport: see :class:`agents.app.EcomApp`."""

    Consumer = Consumer
