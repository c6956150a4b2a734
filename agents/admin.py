"""Create and describe the project's topics.

Why: Faust creates its own internal topics, but the input and output topics belong to
the deployment. Creating them here, with the right partition count and compaction,
keeps the inputs co-partitioned (same count, keyed by ``user_id``), which is what lets
one worker own every event of a user.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from agents.config import COMPACTED_TOPICS, Settings


def admin_client(settings: Settings, timeout: float = 30.0) -> KafkaAdminClient:
    """An admin client, retried until the broker answers or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return KafkaAdminClient(
                bootstrap_servers=settings.bootstrap_servers or "127.0.0.1:9092",
                client_id=f"{settings.app_id}-admin",
                **settings.kafka_client_kwargs(),
            )
        except KafkaError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def create_topics(settings: Settings) -> list[str]:
    """Create every project topic that does not exist yet; return the ones created."""
    client = admin_client(settings)
    try:
        existing = set(client.list_topics())
        wanted = [
            NewTopic(
                name, settings.partitions, 1,
                topic_configs={"cleanup.policy": "compact"} if logical in COMPACTED_TOPICS else {},
            )
            for logical, name in settings.topics.items()
            if name not in existing
        ]
        for topic in wanted:
            try:
                client.create_topics([topic])
            except TopicAlreadyExistsError:
                continue
        return [t.name for t in wanted]
    finally:
        client.close()


def describe_topics(settings: Settings) -> dict[str, int]:
    """Partition count of each project topic (0 where it does not exist)."""
    client = admin_client(settings)
    try:
        existing = set(client.list_topics())
        names = [n for n in settings.topics.values() if n in existing]
        counts = {n: 0 for n in settings.topics.values()}
        for topic in client.describe_topics(names) if names else []:
            counts[topic["name"]] = len(topic["partitions"])
        return counts
    finally:
        client.close()


def committed_offsets(client: KafkaAdminClient, group: str, topics: Iterable[str]) -> int:
    """Sum of the offsets ``group`` has committed on ``topics``: how many of their
    messages the group has finished, as the broker knows it (tests, benchmarks)."""
    wanted = set(topics)
    offsets = client.list_group_offsets(group)[group]
    return sum(meta.offset for tp, meta in offsets.items()
               if tp.topic in wanted and meta.offset > 0)
