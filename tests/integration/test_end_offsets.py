"""The end offsets a recovering worker reads up to are the true ends, on the real broker."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition
from faust.types import TP
from kafka.admin import KafkaAdminClient, NewTopic

from agents.end_offsets import fetched_ends

pytestmark = pytest.mark.integration


async def _produce_batches(servers: str, topic: str, batches: int, per_batch: int) -> None:
    """Records sent together so that each produce request carries a multi-record batch."""
    producer = AIOKafkaProducer(bootstrap_servers=servers, linger_ms=50)
    await producer.start()
    try:
        for _ in range(batches):
            sent = [await producer.send(topic, b"x", partition=0) for _ in range(per_batch)]
            await asyncio.gather(*sent)
    finally:
        await producer.stop()


def test_fetched_ends_are_the_number_of_records_written(bootstrap_servers):
    topic, empty = f"ends-{uuid.uuid4().hex[:8]}", f"ends-empty-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers)
    admin.create_topics([NewTopic(topic, 1, 1), NewTopic(empty, 1, 1)])
    admin.close()
    asyncio.run(_produce_batches(bootstrap_servers, topic, batches=3, per_batch=5))

    async def listed() -> int:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers)
        await consumer.start()
        try:
            tp = TopicPartition(topic, 0)
            return (await consumer.end_offsets([tp]))[tp]
        finally:
            await consumer.stop()

    reported = asyncio.run(listed())  # 11 on Tansu (start of the last batch + 1), 15 on Kafka
    ends = fetched_ends(bootstrap_servers, {TP(topic, 0): reported, TP(empty, 0): 0})
    assert ends == {TP(topic, 0): 15, TP(empty, 0): 0}
