"""The start-up catch-up watcher (review 114): a consumer's group has applied what its topics
held at start once every partition's committed offset reaches the partition's end marked at
start; until then the service is not told, whatever the broker does, and a broker out of
reach is logged a bounded number of times."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import pytest
from aiokafka import TopicPartition
from hypothesis import given
from hypothesis import strategies as st

from shared.streaming import catch_up
from shared.streaming.catch_up import Mark, caught_up, log_renewed, watch_catch_up

P0, P1 = TopicPartition("trial.subjects.v1", 0), TopicPartition("trial.subjects.v1", 1)


def test_a_partition_is_caught_up_once_its_committed_offset_reaches_its_true_end() -> None:
    # the embedded broker reported 1 for a partition whose last batch holds offsets 0-2
    marks = {P0: Mark(start=0, reported_end=1, end=3), P1: Mark(start=5, reported_end=5, end=5)}
    assert not caught_up(marks, {P0: None, P1: None})
    assert not caught_up(marks, {P0: 1, P1: None})  # the reported end is not the end
    assert caught_up(marks, {P0: 3, P1: None})  # P1 was empty (all expired): nothing to wait
    assert caught_up(marks, {P0: 7})


@given(
    st.dictionaries(
        st.integers(0, 11),
        st.tuples(
            st.integers(0, 50), st.integers(0, 50), st.one_of(st.none(), st.integers(0, 120))
        ),
    )
)
def test_caught_up_means_every_nonempty_partition_committed_at_least_its_end(
    partitions: dict[int, tuple[int, int, int | None]],
) -> None:
    marks = {
        TopicPartition("t", p): Mark(start, start + length, start + length)
        for p, (start, length, _) in partitions.items()
    }
    committed = {TopicPartition("t", p): c for p, (_, _, c) in partitions.items()}
    expected = all(
        length == 0 or (c is not None and c >= start + length)
        for start, length, c in partitions.values()
    )
    assert caught_up(marks, committed) is expected


def test_a_log_ending_before_its_mark_is_a_new_one() -> None:
    marks = {P0: Mark(0, 4, 6)}
    assert not log_renewed(marks, {P0: 4})
    assert not log_renewed(marks, {P0: 9})
    assert log_renewed(marks, {P0: 1})


class FakeOffsets:
    """The broker as the watcher sees it; ``down``: each call fails (connection refused)."""

    def __init__(self, broker: Broker) -> None:
        self._broker = broker

    async def mark(self) -> dict[TopicPartition, Mark]:
        self._broker.check()
        self._broker.markings += 1
        return {tp: Mark(0, end, end) for tp, end in self._broker.ends.items()}

    async def reported_ends(
        self, partitions: Sequence[TopicPartition]
    ) -> dict[TopicPartition, int]:
        self._broker.check()
        return {tp: self._broker.ends[tp] for tp in partitions}

    async def committed(
        self, partitions: Sequence[TopicPartition]
    ) -> dict[TopicPartition, int | None]:
        self._broker.check()
        return {tp: self._broker.committed.get(tp) for tp in partitions}

    async def close(self) -> None:
        self._broker.closed += 1


class Broker:
    def __init__(self, ends: dict[TopicPartition, int]) -> None:
        self.ends = ends
        self.committed: dict[TopicPartition, int] = {}
        self.down = False
        self.markings = 0
        self.closed = 0
        self.opened = 0

    def check(self) -> None:
        if self.down:
            raise ConnectionRefusedError(111, "refused")

    def offsets(self) -> FakeOffsets:
        self.opened += 1
        return FakeOffsets(self)


async def watching(broker: Broker, told: list[int], stopping: asyncio.Event) -> asyncio.Task[None]:
    task = asyncio.create_task(
        watch_catch_up("lab-ingestion", broker.offsets, lambda: told.append(1), stopping,
                       poll_seconds=0.01)
    )  # fmt: skip
    await asyncio.sleep(0.05)
    return task


async def test_the_service_is_told_once_the_group_committed_up_to_the_marks() -> None:
    broker = Broker({P0: 3, P1: 0})
    told: list[int] = []
    stopping = asyncio.Event()
    task = await watching(broker, told, stopping)
    assert told == []
    broker.ends[P0] = 9  # enrolled after the start: not waited for
    broker.committed[P0] = 3
    await asyncio.sleep(0.05)
    assert told == [1] and broker.markings == 1
    assert not task.done()  # a background task runs as long as the service
    stopping.set()
    await asyncio.wait_for(task, 1)
    assert told == [1] and broker.closed >= 1


async def test_empty_topics_are_caught_up_at_once() -> None:
    broker = Broker({P0: 0, P1: 0})
    told: list[int] = []
    stopping = asyncio.Event()
    task = await watching(broker, told, stopping)
    assert told == [1]
    stopping.set()
    await asyncio.wait_for(task, 1)


async def test_a_broker_out_of_reach_keeps_it_waiting_and_is_logged_boundedly(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catch_up, "MAX_BACKOFF_SECONDS", 0.01)
    broker = Broker({P0: 0})
    broker.down = True
    told: list[int] = []
    stopping = asyncio.Event()
    with caplog.at_level(logging.WARNING, logger="shared.streaming.catch_up"):
        task = await watching(broker, told, stopping)
        await asyncio.sleep(0.2)
    assert told == []  # never taken as caught up
    assert broker.opened > 5  # tried again and again, each time with a fresh client
    warnings = [r for r in caplog.records if "caught up" in r.getMessage()]
    assert len(warnings) == 1  # then at most one a minute
    assert warnings[0].__dict__["error"] == "ConnectionRefusedError (errno 111)"  # no text
    broker.down = False
    await asyncio.sleep(0.1)
    assert told == [1]
    stopping.set()
    await asyncio.wait_for(task, 1)


async def test_a_log_new_since_the_marks_is_marked_again() -> None:
    """The embedded broker restarted empty: the group's offsets are gone with the old log."""
    broker = Broker({P0: 6})
    told: list[int] = []
    stopping = asyncio.Event()
    task = await watching(broker, told, stopping)
    broker.ends[P0] = 2  # republished so far
    await asyncio.sleep(0.05)
    assert broker.markings >= 2 and told == []
    broker.committed[P0] = 2
    await asyncio.sleep(0.05)
    assert told == [1]
    stopping.set()
    await asyncio.wait_for(task, 1)


async def test_the_first_look_is_signalled_whatever_it_found() -> None:
    broker = Broker({P0: 4})
    broker.down = True
    tried, stopping = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(
        watch_catch_up("c", broker.offsets, lambda: None, stopping, tried=tried)
    )
    await asyncio.wait_for(tried.wait(), 1)
    stopping.set()
    await asyncio.wait_for(task, 1)


async def test_a_stop_before_catching_up_ends_the_watch_untold() -> None:
    broker = Broker({P0: 4})
    told: list[int] = []
    stopping = asyncio.Event()
    task = await watching(broker, told, stopping)
    stopping.set()
    await asyncio.wait_for(task, 1)
    assert told == [] and broker.closed >= 1
