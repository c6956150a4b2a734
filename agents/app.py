"""The Faust application and its settings.

Why these settings: the worker reads raw bytes (validation is ours, so a bad message
becomes a dead letter rather than a decode crash in Faust), takes events in batches,
and uses short session timeouts so a restarted worker gets its partitions back in
seconds rather than minutes (DESIGN.md).
"""

from __future__ import annotations

import socket
import ssl

import faust

from agents.config import Settings
from agents.transport import Transport
from schemas.codec import register_orjson_codec

#: Producer batching for changelogs and outputs: one request carries many records, at a
#: cost of at most this linger in latency.
PRODUCER_BATCH_BYTES = 512 * 1024
PRODUCER_LINGER_S = 0.005


def _credentials(settings: Settings) -> faust.auth.Credentials | None:
    sec = settings.security
    context = None
    if sec.protocol.endswith("SSL"):
        context = ssl.create_default_context(cafile=sec.cafile or None)
    if sec.protocol.startswith("SASL"):
        return faust.SASLCredentials(
            username=sec.username, password=sec.password, mechanism=sec.sasl_mechanism,
            ssl_context=context,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None


class EcomApp(faust.App):
    """Faust's app on :class:`agents.transport.Transport` (crash-safe recovery and commits)."""

    kafka_client_kwargs: dict | None = None  # security settings for kafka-python clients
    fetch_max_wait_ms: int | None = None  # the worker consumer's (agents.fetch_wait)

    def _new_transport(self) -> Transport:
        return Transport(self.conf.broker_consumer, self)

    def _new_producer_transport(self) -> Transport:
        return Transport(self.conf.broker_producer, self)


def create_app(settings: Settings) -> faust.App:
    """A configured Faust app with no agents yet (see :mod:`agents.pipeline`)."""
    register_orjson_codec()
    app = EcomApp(
        settings.app_id,
        broker=settings.broker_url,
        broker_credentials=_credentials(settings),
        store=settings.store,
        datadir=settings.data_dir,
        topic_partitions=settings.partitions,
        topic_replication_factor=1,
        table_standby_replicas=0,
        web_port=settings.web_port,
        web_bind="0.0.0.0",
        web_host=settings.advertised_host or socket.gethostname(),
        canonical_url=f"http://{settings.advertised_host or socket.gethostname()}:"
                      f"{settings.web_port}",
        web_in_thread=False,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=max(1.0, settings.session_timeout_s / 10),
        broker_rebalance_timeout=max(10.0, settings.session_timeout_s * 2),
        broker_commit_interval=1.0,
        consumer_max_fetch_size=4 * settings.max_message_bytes,
        producer_max_request_size=max(4 * settings.max_message_bytes, 1 << 20),
        # A user's state is a few KB: with Faust's defaults (16 KB batches, no linger)
        # each changelog request carried a handful of records (see README, Performance).
        producer_max_batch_size=PRODUCER_BATCH_BYTES,
        producer_linger=PRODUCER_LINGER_S,
        stream_buffer_maxsize=16_384,
        value_serializer="orjson",
        producer_acks=-1,
        consumer_auto_offset_reset="earliest",
        recovery_consistency_check=settings.recovery_consistency_check,
    )
    app.kafka_client_kwargs = settings.kafka_client_kwargs()  # for end_offsets' probe
    app.fetch_max_wait_ms = settings.fetch_max_wait_ms
    return app
