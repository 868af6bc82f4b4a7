"""Reading back the last published offsets: retention, truncation and the embedded broker's
end offsets, against a hand-written consumer that answers like the brokers do."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import OffsetOutOfRangeError

from shared.messaging.read_back import Readback, read_back_offsets

P0 = TopicPartition("lab.results.v1", 0)
P1 = TopicPartition("lab.results.v1", 1)


def events(offsets: range) -> dict[int, bytes]:
    return {o: json.dumps({"event_id": f"e-{o}"}).encode() for o in offsets}


@dataclass
class Partition:
    messages: dict[int, bytes]
    # the log start, as successive beginning_offsets calls see it (the last one stays)
    starts: list[int] = field(default_factory=lambda: [0])
    reported_end: int | None = None  # the embedded broker reports last batch base + 1
    refuses_past_end: bool = True  # Apache Kafka: a fetch past the end is out of range
    answers: bool = True  # False: a slow broker, no fetch answer arrives in time

    @property
    def start(self) -> int:
        return self.starts[-1]

    @property
    def end(self) -> int:
        return max(self.messages, default=self.start - 1) + 1


class FakeConsumer:
    """Assign, seek, fetch: Kafka's answers, including OffsetOutOfRange for a fetch below
    the log start or past its end (``auto_offset_reset="none"``)."""

    def __init__(self, partitions: dict[TopicPartition, Partition]) -> None:
        self.partitions = partitions
        self.assigned: list[TopicPartition] = []
        self.positions: dict[TopicPartition, int] = {}
        self.fetches = 0
        self._start_calls: dict[TopicPartition, int] = {}

    async def beginning_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        answer = {}
        for tp in tps:
            calls = self._start_calls.get(tp, 0)
            starts = self.partitions[tp].starts
            answer[tp] = starts[min(calls, len(starts) - 1)]
            self._start_calls[tp] = calls + 1
        return answer

    async def end_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        ends = {tp: self.partitions[tp].reported_end for tp in tps}
        return {tp: end if end is not None else self.partitions[tp].end for tp, end in ends.items()}

    def assign(self, tps: list[TopicPartition]) -> None:
        self.assigned = list(tps)
        self.positions = {}

    def seek(self, tp: TopicPartition, offset: int) -> None:
        assert tp in self.assigned
        self.positions[tp] = offset

    async def getmany(
        self, *tps: TopicPartition, timeout_ms: int, max_records: int | None = None
    ) -> dict[TopicPartition, list[Any]]:
        """The records from the position to the end of the log, for the first partition
        that has any, the way a fetch answers."""
        assert max_records is None
        self.fetches += 1
        for tp in tps:
            partition, offset = self.partitions[tp], self.positions[tp]
            if not partition.answers:
                continue
            past_end = offset > partition.end and partition.refuses_past_end
            if offset < partition.start or past_end:
                raise OffsetOutOfRangeError({tp: offset})
            held = sorted(o for o in partition.messages if o >= offset)
            if held:
                return {tp: [SimpleNamespace(offset=o, value=partition.messages[o]) for o in held]}
        await asyncio.sleep(timeout_ms / 1000)
        return {}


async def read(consumer: FakeConsumer, wanted: dict[TopicPartition, int]) -> dict[Any, Readback]:
    found = await read_back_offsets(
        consumer,  # a hand-written fake of AIOKafkaConsumer
        wanted,
        timeout=1.0,
    )
    assert consumer.assigned == []  # the partitions are given back
    return found


async def test_the_event_at_the_offset_is_read_back() -> None:
    consumer = FakeConsumer({P0: Partition(events(range(10)))})
    found = await read(consumer, {P0: 7})
    assert found == {("lab.results.v1", 0): Readback("e-7")}
    assert found[("lab.results.v1", 0)].confirms("e-7")


async def test_an_offset_below_the_log_start_expired_and_confirms_without_a_fetch() -> None:
    consumer = FakeConsumer({P0: Partition(events(range(100, 150)), starts=[100])})
    found = await read(consumer, {P0: 40})
    assert found == {("lab.results.v1", 0): Readback(expired=True)}
    assert found[("lab.results.v1", 0)].confirms("e-40")
    assert consumer.fetches == 0


async def test_an_offset_past_the_end_of_a_truncated_log_is_not_there() -> None:
    consumer = FakeConsumer({P0: Partition(events(range(5)))})  # the topic was re-created
    found = await read(consumer, {P0: 40})
    assert found == {("lab.results.v1", 0): Readback()}
    assert not found[("lab.results.v1", 0)].confirms("e-40")


async def test_retention_moving_the_start_during_the_read_is_still_no_loss() -> None:
    consumer = FakeConsumer({P0: Partition(events(range(50, 60)), starts=[0, 50])})
    found = await read(consumer, {P0: 40})
    assert found == {("lab.results.v1", 0): Readback(expired=True)}


async def test_an_offset_past_the_understated_end_of_the_embedded_broker_is_read() -> None:
    # a batch at base offset 10 holds 10, 11 and 12; the embedded broker reports end 11
    partition = Partition(events(range(13)), reported_end=11, refuses_past_end=False)
    found = await read(FakeConsumer({P0: partition}), {P0: 12})
    assert found == {("lab.results.v1", 0): Readback("e-12")}


async def test_an_empty_partition_holds_nothing_and_is_not_fetched() -> None:
    consumer = FakeConsumer({P0: Partition({})})  # the embedded broker restarted empty
    found = await read(consumer, {P0: 3})
    assert found == {("lab.results.v1", 0): Readback()}
    assert consumer.fetches == 0


async def test_each_partition_gets_its_own_answer() -> None:
    consumer = FakeConsumer({P0: Partition(events(range(3))), P1: Partition(events(range(9)))})
    found = await read(consumer, {P0: 8, P1: 8})
    assert found == {("lab.results.v1", 0): Readback(), ("lab.results.v1", 1): Readback("e-8")}


async def test_an_offset_past_the_end_of_the_embedded_brokers_log_is_not_there_at_once() -> None:
    # re-created with 5 events, last batch at base 3; the broker answers nothing past the end
    partition = Partition(events(range(5)), reported_end=4, refuses_past_end=False)
    consumer = FakeConsumer({P0: partition})
    found = await read(consumer, {P0: 40})
    assert found == {("lab.results.v1", 0): Readback()}
    assert consumer.fetches == 1  # the fetch from the last batch showed it: no waiting


async def test_a_partition_that_does_not_answer_in_time_is_unknown_not_lost() -> None:
    consumer = FakeConsumer(
        {P0: Partition(events(range(10)), answers=False), P1: Partition(events(range(9)))}
    )
    found = await read(consumer, {P0: 7, P1: 8})
    slow = found[("lab.results.v1", 0)]
    assert slow == Readback(unknown=True)
    assert not slow.confirms("e-7") and not slow.loses("e-7")
    assert found[("lab.results.v1", 1)] == Readback("e-8")
    assert found[("lab.results.v1", 1)].confirms("e-8")
