"""KafkaPublisher's start and stop when the broker cannot be reached (review 254): a failed
start is tried again without starting twice what had started, and a stop closes both
clients whatever the start got to."""

from __future__ import annotations

import gc
import socket
import warnings

import pytest
from aiokafka.errors import KafkaConnectionError

from shared.messaging.kafka import KafkaPublisher


class Client:
    """A hand-written fake of an aiokafka client: counts starts and stops."""

    def __init__(self, fails: int = 0) -> None:
        self.starts = self.stops = 0
        self.fails = fails

    async def start(self) -> None:
        self.starts += 1
        if self.fails:
            self.fails -= 1
            raise KafkaConnectionError("unable to bootstrap")

    async def stop(self) -> None:
        self.stops += 1


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # nothing listens on it once closed


async def test_a_start_failed_on_the_offsets_reader_starts_only_that_again() -> None:
    publisher = KafkaPublisher("127.0.0.1:9", "unit")
    producer, offsets = Client(), Client(fails=1)
    publisher._producer, publisher._offsets = producer, offsets  # hand-written fakes
    with pytest.raises(KafkaConnectionError):
        await publisher.start()
    await publisher.start()
    assert (producer.starts, offsets.starts) == (1, 2)
    await publisher.stop()
    assert (producer.stops, offsets.stops) == (1, 1)


async def test_a_stop_after_a_failed_start_closes_both_clients() -> None:
    publisher = KafkaPublisher(f"127.0.0.1:{closed_port()}", "unit")
    with pytest.raises(KafkaConnectionError):
        await publisher.start()
    await publisher.stop()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del publisher
        gc.collect()
    assert [str(w.message) for w in caught if "Unclosed" in str(w.message)] == []


async def test_a_stopped_publisher_is_never_started_again() -> None:
    """Review 258: a restarted producer stayed open, since aiokafka's stop then does nothing."""
    publisher = KafkaPublisher("127.0.0.1:9", "unit")
    producer, offsets = Client(), Client()
    publisher._producer, publisher._offsets = producer, offsets  # hand-written fakes
    await publisher.start()
    await publisher.stop()
    with pytest.raises(RuntimeError, match="not started again"):
        await publisher.start()
    assert (producer.starts, offsets.starts) == (1, 1)
