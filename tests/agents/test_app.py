"""The app is wired with the transport whose end offsets hold on every broker."""

from __future__ import annotations

import asyncio

from agents import end_offsets
from agents.app import create_app
from agents.config import Settings


def test_the_app_consumer_confirms_end_offsets():
    app = create_app(Settings.from_env({"ECOM_APP_ID": "test-app-wiring"}))
    assert isinstance(app.consumer, end_offsets.Consumer)
    assert app.kafka_client_kwargs == {"security_protocol": "PLAINTEXT"}


def test_the_worker_consumer_waits_at_most_the_configured_fetch_wait():
    async def created_wait() -> int:
        app = create_app(Settings.from_env({"ECOM_APP_ID": "test-app-fetch-wait",
                                            "ECOM_FETCH_MAX_WAIT_MS": "40"}))
        thread = app.consumer._thread
        consumer = thread._create_worker_consumer(app.consumer.transport)
        return consumer._fetch_max_wait_ms

    assert asyncio.run(created_wait()) == 40
