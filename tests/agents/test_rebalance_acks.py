"""Acks made during a rebalance never make an offset committable (agents/rebalance_acks)."""

from __future__ import annotations

from faust.types import TP
from faust.types.tuples import ConsumerMessage

from agents import rebalance_acks
from agents.app import create_app
from agents.config import Settings

TOPIC = TP("clickstream", 0)


def _message(offset: int, generation_id: int) -> ConsumerMessage:
    return ConsumerMessage(TOPIC.topic, TOPIC.partition, offset, 0.0, 0, [], b"k", b"{}",
                           None, 1, 2, TOPIC, generation_id=generation_id)


def _consumer():
    app = create_app(Settings.from_env({"ECOM_APP_ID": "test-rebalance-acks"}))
    app.topics.acks_enabled_for = lambda topic: True
    app.consumer_generation_id = 5
    app.flow_control.resume()
    consumer = app.consumer
    assert isinstance(consumer, rebalance_acks.Consumer)
    return app, consumer


def test_an_ack_of_the_current_generation_is_committable():
    _, consumer = _consumer()
    message = _message(10, generation_id=5)
    assert consumer.ack(message) is True
    assert message.acked and list(consumer._acked[TOPIC]) == [10]


def test_an_ack_from_an_ended_generation_is_done_but_not_committable():
    _, consumer = _consumer()
    message = _message(11, generation_id=4)
    consumer._unacked_messages.add(message)
    assert consumer.ack(message) is False
    assert message.acked  # Faust's waits for acks still end
    assert message not in consumer._unacked_messages
    assert not consumer._acked.get(TOPIC)


def test_an_ack_while_flow_control_is_suspended_is_not_committable():
    app, consumer = _consumer()
    app.flow_control.suspend()  # what a rebalance does first
    message = _message(12, generation_id=5)
    assert consumer.ack(message) is False
    assert message.acked and not consumer._acked.get(TOPIC)
    app.flow_control.resume()
    later = _message(13, generation_id=5)
    assert consumer.ack(later) is True
    assert list(consumer._acked[TOPIC]) == [13]
