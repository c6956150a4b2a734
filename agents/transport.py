"""The Kafka transport the app uses: Faust's aiokafka driver with two fixes.

- :mod:`agents.end_offsets`: recovery reads every changelog to its true end;
- :mod:`agents.producer_flush`: offsets are committed only after every changelog
  record of the batch has reached the Kafka client.

Both were found by the SIGKILL restart test (``tests/integration/test_restart.py``):
each lost committed state after a crash.
"""

from __future__ import annotations

from faust.transport.drivers import aiokafka as faust_aiokafka

from agents import end_offsets, producer_flush


class Transport(faust_aiokafka.Transport):
    """Use for both the consumer and the producer: see :class:`agents.app.EcomApp`."""

    Consumer = end_offsets.Consumer
    Producer = producer_flush.Producer
