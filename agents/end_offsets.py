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

The probe is a plain kafka-python consumer in a thread of its own, bounded by a
timeout: a rebalance can cancel recovery at any moment, and a probe sharing an event
loop with Faust's consumer (the first version) could leave that loop stuck. A probe
that does not answer in time falls back to the reported value, which on Tansu can be
short, so the bound is generous (a loaded 2-core machine answered in about 1 s) and
every fallback is logged with the partitions it concerns.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 30.0


def fetched_ends(
    bootstrap_servers: str, reported: Mapping[TP, int | None],
    client_kwargs: Mapping[str, Any] | None = None, timeout_s: float = PROBE_TIMEOUT_S,
) -> dict[TP, int]:
    """The end offset of each partition: the larger of ``reported`` and a fetch's watermark.

    Blocking (run it in a thread). Non-empty partitions are fetched from just before
    their reported end, where a record is sure to exist. A probe that fails (a client
    that cannot connect in time on a loaded machine) is tried again; partitions still
    unanswered after ``timeout_s`` keep the reported value, with a warning.
    """
    ends = {tp: int(end) if end is not None else 0 for tp, end in reported.items()}
    probe = {TopicPartition(tp.topic, tp.partition): tp for tp, end in ends.items() if end > 0}
    deadline = time.monotonic() + timeout_s
    waiting = set(probe)
    while waiting and time.monotonic() < deadline:
        try:
            _probe(bootstrap_servers, probe, ends, waiting, deadline, client_kwargs)
        except KafkaError as exc:
            log.info("end offset probe failed (%r); trying again", exc)
            time.sleep(0.5)
    if waiting:
        log.warning("end offsets of %s not confirmed by a fetch within %.0f s; using "
                    "ListOffsets, which may stop recovery short",
                    sorted(f"{tp.topic}[{tp.partition}]" for tp in waiting), timeout_s)
    return ends


def _probe(
    bootstrap_servers: str, probe: Mapping[TopicPartition, TP], ends: dict[TP, int],
    waiting: set[TopicPartition], deadline: float, client_kwargs: Mapping[str, Any] | None,
) -> None:
    """One consumer fetching the ``waiting`` partitions; answered ones leave ``waiting``."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=None,
                             enable_auto_commit=False, **dict(client_kwargs or {}))
    try:
        consumer.assign(list(waiting))
        for tp in waiting:
            consumer.seek(tp, ends[probe[tp]] - 1)
        while waiting and time.monotonic() < deadline:
            consumer.poll(timeout_ms=200)
            for tp in list(waiting):
                watermark = consumer.highwater(tp)
                if watermark is not None:
                    ends[probe[tp]] = max(ends[probe[tp]], watermark)
                    waiting.discard(tp)
    finally:
        consumer.close(autocommit=False)


async def confirmed_ends(
    bootstrap_servers: str, reported: Mapping[TP, int | None],
    client_kwargs: Mapping[str, Any] | None = None,
) -> dict[TP, int]:
    """:func:`fetched_ends` off the event loop; the reported ends if it fails or hangs."""
    try:
        return await asyncio.wait_for(
            asyncio.to_thread(fetched_ends, bootstrap_servers, reported, client_kwargs),
            PROBE_TIMEOUT_S + 10)
    except Exception as exc:  # the reported values are the best left: go on with them
        log.warning("end offsets not confirmed by a fetch (%r); using ListOffsets", exc)
        return {tp: int(end) if end is not None else 0 for tp, end in reported.items()}


class Consumer(faust_aiokafka.Consumer):
    """Faust's aiokafka consumer with end offsets confirmed by a fetch."""

    async def highwaters(self, *partitions: TP) -> Mapping[TP, int]:
        reported = await super().highwaters(*partitions)
        if self.in_transaction or not any(reported.values()):
            return reported
        transport = self.transport
        servers = faust_aiokafka.server_list(transport.url, transport.default_port)
        return await confirmed_ends(",".join(servers), reported,
                                    getattr(self.app, "kafka_client_kwargs", None))
