"""The Kafka transport the app uses: Faust's aiokafka driver with four changes.

- :mod:`agents.end_offsets`: recovery reads every changelog to its true end;
- :mod:`agents.producer_flush`: offsets are committed only after every changelog
  record of the batch has reached the Kafka client;
- :mod:`agents.rebalance_acks`: a rebalance does not commit past events it skipped;
- :mod:`agents.fetch_wait`: the consumer's fetch wait is a setting, not 1.5 s.

The first two were found by the SIGKILL restart test
(``tests/integration/test_restart.py``): each lost committed events. The third closes a
loss path found in Faust's rebalance code.
"""

from __future__ import annotations

from faust.transport.drivers import aiokafka as faust_aiokafka

from agents import end_offsets, fetch_wait, producer_flush, rebalance_acks


class Consumer(rebalance_acks.Consumer, end_offsets.Consumer):
    """End offsets confirmed by a fetch; no commit past events a rebalance skipped; fetch
    wait from ``ECOM_FETCH_MAX_WAIT_MS``."""

    def _new_consumer_thread(self) -> fetch_wait.ConsumerThread:
        return fetch_wait.ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(faust_aiokafka.Transport):
    """Use for both the consumer and the producer: see :class:`agents.app.EcomApp`."""

    Consumer = Consumer
    Producer = producer_flush.Producer
