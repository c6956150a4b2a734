"""Shared fixtures: the Kafka-protocol broker the integration tests talk to.

Order (DESIGN.md): ``KAFKA_BOOTSTRAP_SERVERS`` if set; a testcontainers Kafka when a
Docker engine answers; otherwise the embedded Tansu broker. All are real brokers.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from agents.broker import EmbeddedBroker

SHARED = Path(__file__).resolve().parents[2] / "shared"
DATASETS = Path(os.environ.get("ECOM_DATASETS", SHARED / "datasets"))


def docker_engine_answers() -> bool:
    """True when a Docker engine (not just the client) responds."""
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


@contextmanager
def apache_kafka_container() -> Iterator[str]:
    """A testcontainers Apache Kafka (KRaft) that takes the suite's 10 MB message, so the
    worker, not the broker, is what rejects it (``too_large``)."""
    from testcontainers.kafka import KafkaContainer

    big = str(16 << 20)
    container = (KafkaContainer().with_kraft().with_env("KAFKA_MESSAGE_MAX_BYTES", big)
                 .with_env("KAFKA_REPLICA_FETCH_MAX_BYTES", big))
    with container as kafka:
        yield kafka.get_bootstrap_server()


@pytest.fixture(scope="session")
def bootstrap_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    elif docker_engine_answers():
        with apache_kafka_container() as servers:
            yield servers
    else:
        log = tmp_path_factory.mktemp("broker") / "tansu.log"
        with EmbeddedBroker(log_path=str(log)) as broker:
            yield broker.bootstrap_servers


@pytest.fixture
def dataset_dir() -> Path:
    """The shared evaluation datasets; tests using them skip where they are absent."""
    if not DATASETS.is_dir():
        pytest.skip(f"datasets not found at {DATASETS} (they are not shipped with the project)")
    return DATASETS
