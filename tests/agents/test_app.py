"""The app is wired with the transport whose end offsets hold on every broker."""

from __future__ import annotations

from agents import end_offsets
from agents.app import create_app
from agents.config import Settings


def test_the_app_consumer_confirms_end_offsets():
    app = create_app(Settings.from_env({"ECOM_APP_ID": "test-app-wiring"}))
    assert isinstance(app.consumer, end_offsets.Consumer)
    assert app.kafka_client_kwargs == {"security_protocol": "PLAINTEXT"}
