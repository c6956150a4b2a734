"""A Faust consumer whose fetch wait is configurable (``ECOM_FETCH_MAX_WAIT_MS``).

Why: faust-streaming hard-codes ``fetch_max_wait_ms=1500`` for the worker's consumer.
A broker may hold a fetch that found nothing new for that long. Apache Kafka answers as
soon as a record arrives, but the embedded Tansu broker holds it to the deadline, so
there every quiet moment added up to 1.5 s of latency (``make bench``, latency phase:
the raw-consumer floor was p50 0.35 s, p99 0.78 s). A short wait costs only more empty
fetches while a partition is idle.
"""

from __future__ import annotations

from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka


class ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """Faust's aiokafka consumer thread with the app's fetch wait."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        wait_ms = getattr(self.app, "fetch_max_wait_ms", None)
        if wait_ms is not None:
            # aiokafka reads it when the consumer starts (it builds its Fetcher then).
            consumer._fetch_max_wait_ms = int(wait_ms)
        return consumer
