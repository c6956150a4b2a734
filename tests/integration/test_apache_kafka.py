"""The mixed-batch test on Apache Kafka itself, whatever broker the rest of the suite uses.

Why: the embedded Tansu broker speaks the Kafka protocol but is not Kafka (its end
offsets differ, it has no transactions). Where a Docker engine answers, this runs the
intake test (valid events, duplicates, every kind of malformed message) against a
testcontainers Apache Kafka as well; elsewhere it skips and says why.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import apache_kafka_container, docker_engine_answers
from tests.integration import test_intake

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def apache_kafka() -> Iterator[str]:
    if not docker_engine_answers():
        pytest.skip("needs a Docker engine for a testcontainers Apache Kafka; none answers")
    with apache_kafka_container() as servers:
        yield servers


def test_mixed_batch_on_apache_kafka(apache_kafka, tmp_path):
    test_intake.test_mixed_batch_dead_letters_duplicates_and_valid_events(apache_kafka, tmp_path)
