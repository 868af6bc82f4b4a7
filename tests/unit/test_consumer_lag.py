"""Consumer lag on a timer, for every assigned partition, against a hand-written consumer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest
from faust.types import TP
from prometheus_client import CollectorRegistry

from shared.messaging.consumed import ConsumedMessage
from shared.metrics import ConsumerMetrics
from shared.streaming.faust_app import BatchAgent, create_faust_app
from shared.streaming.lag import LagMonitor

LAB = "lab.results.v1"
SUBJECTS = "trial.subjects.v1"
OTHER = "crp.assessments.v1"


class FakeConsumer:
    """What faust's consumer knows: assignment, committed offsets, the broker's end offsets."""

    def __init__(self) -> None:
        self.assigned: set[TP] = set()
        self._committed_offset: dict[TP, int | None] = {}
        self.ends: dict[TP, int] = {}
        self.starts: dict[TP, int] = {}
        self.fail: BaseException | None = None

    def assignment(self) -> set[TP]:
        if self.fail is not None:
            raise self.fail
        return set(self.assigned)

    async def highwaters(self, *partitions: TP) -> Mapping[TP, int]:
        return {tp: self.ends[tp] for tp in partitions if tp in self.ends}

    async def earliest_offsets(self, *partitions: TP) -> Mapping[TP, int]:
        return {tp: self.starts.get(tp, 0) for tp in partitions}


def lag(registry: CollectorRegistry, topic: str, partition: int) -> float | None:
    return registry.get_sample_value(
        "cachexia_consumer_lag_messages",
        {"service": "test", "topic": topic, "partition": str(partition)},
    )


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def consumer() -> FakeConsumer:
    return FakeConsumer()


def monitor(registry: CollectorRegistry, consumer: FakeConsumer) -> LagMonitor:
    return LagMonitor([LAB, SUBJECTS], ConsumerMetrics(registry, "test"), lambda: consumer)


async def test_every_assigned_partition_has_a_lag_without_any_batch(
    registry: CollectorRegistry, consumer: FakeConsumer
) -> None:
    a, b, c, other = TP(LAB, 0), TP(LAB, 1), TP(SUBJECTS, 4), TP(OTHER, 0)
    consumer.assigned = {a, b, c, other}
    consumer._committed_offset = {a: 10, b: None}
    consumer.ends = {a: 15, b: 7, c: 3, other: 99}
    consumer.starts = {b: 2}
    await monitor(registry, consumer).refresh()

    assert lag(registry, LAB, 0) == 5, "high-water minus committed offset"
    assert lag(registry, LAB, 1) == 5, "never committed: read from the earliest offset"
    assert lag(registry, SUBJECTS, 4) == 3
    assert lag(registry, OTHER, 0) is None, "not one of this consumer's topics"


async def test_the_lag_of_a_stalled_consumer_keeps_growing(
    registry: CollectorRegistry, consumer: FakeConsumer
) -> None:
    """Stuck retrying one batch (or exiting and restarting on it): nothing is committed, so
    the gauge must follow the producers instead of keeping the value of the last batch."""
    tp = TP(LAB, 0)
    consumer.assigned = {tp}
    consumer._committed_offset = {tp: 100}
    lags = monitor(registry, consumer)
    for end in (100, 140, 250):
        consumer.ends[tp] = end
        await lags.refresh()
        assert lag(registry, LAB, 0) == end - 100


async def test_a_revoked_partition_loses_its_series(
    registry: CollectorRegistry, consumer: FakeConsumer
) -> None:
    a, b = TP(LAB, 0), TP(LAB, 1)
    consumer.assigned = {a, b}
    consumer._committed_offset = {a: 1, b: 1}
    consumer.ends = {a: 2, b: 3}
    lags = monitor(registry, consumer)
    await lags.refresh()
    assert lags.reported == {a, b}

    lags.forget({b, TP(OTHER, 1)})
    assert lag(registry, LAB, 1) is None
    assert lag(registry, LAB, 0) == 1

    consumer.assigned = set()  # a rebalance the signal did not report: the timer notices
    await lags.refresh()
    assert lag(registry, LAB, 0) is None
    assert lags.reported == frozenset()


async def test_a_failure_never_escapes_the_timer(
    registry: CollectorRegistry, consumer: FakeConsumer
) -> None:
    tp = TP(LAB, 0)
    consumer.assigned, consumer._committed_offset, consumer.ends = {tp}, {tp: 0}, {tp: 4}
    lags = monitor(registry, consumer)
    await lags.refresh()
    consumer.fail = RuntimeError("consumer thread not yet started")
    await lags.refresh()  # does not raise
    assert lag(registry, LAB, 0) == 4


async def test_a_slow_broker_does_not_hold_the_timer(registry: CollectorRegistry) -> None:
    class Slow(FakeConsumer):
        async def highwaters(self, *partitions: TP) -> Mapping[TP, int]:
            await asyncio.sleep(10)
            return {}

    slow = Slow()
    slow.assigned = {TP(LAB, 0)}
    lags = LagMonitor([LAB], ConsumerMetrics(registry, "test"), lambda: slow, timeout_seconds=0.05)
    await asyncio.wait_for(lags.refresh(), 1)


async def test_a_cancellation_landing_as_a_refresh_ends_stops_the_timer(
    registry: CollectorRegistry, consumer: FakeConsumer
) -> None:
    """faust stops a timer by cancelling it. A cancellation that lands after the refresh's
    work is done but before the refresh resumes was swallowed by ``asyncio.wait_for``
    (Python 3.11): the timer went on, and whoever stopped it waited forever (a CI run hung
    on exactly this)."""
    tp = TP(LAB, 0)
    consumer.assigned, consumer._committed_offset, consumer.ends = {tp}, {tp: 0}, {tp: 4}
    loop = asyncio.get_running_loop()
    cancel_timer: list[Callable[[], object]] = []

    class CancelsAsTheWorkEnds(ConsumerMetrics):
        def set_lag(self, topic: str, partition: int, lag: int) -> None:
            super().set_lag(topic, partition, lag)
            loop.call_soon(cancel_timer[0])  # runs before the refresh resumes

    lags = LagMonitor([LAB], CancelsAsTheWorkEnds(registry, "test"), lambda: consumer)

    async def refresh_every_moment() -> None:
        while True:
            await lags.refresh()
            await asyncio.sleep(0.001)

    timer = asyncio.ensure_future(refresh_every_moment())
    cancel_timer.append(timer.cancel)
    done, _ = await asyncio.wait({timer}, timeout=2)
    assert timer in done and timer.cancelled(), "the cancellation stopped the timer"


# --- wired into the batch agent ---------------------------------------------------------------


class IdleProcessor:
    consumer = "test"

    async def process_until_done(
        self, messages: Sequence[ConsumedMessage], should_stop: Callable[[], bool]
    ) -> None:
        del messages, should_stop


def agent(tmp_path: Path, registry: CollectorRegistry) -> BatchAgent:
    app = create_faust_app("unit-test", "127.0.0.1:1", tmp_path)
    return BatchAgent(
        app, [LAB], IdleProcessor(),  # type: ignore[arg-type]  # a hand-written fake
        ConsumerMetrics(registry, "test"),
        batch_size=10, batch_window_seconds=0.01, shutdown_deadline_seconds=1,
        on_unapplied_at_shutdown=lambda: None, lag_interval_seconds=0.02,
    )  # fmt: skip


async def test_the_agent_computes_lag_on_a_timer_and_drops_revoked_partitions(
    tmp_path: Path, registry: CollectorRegistry, consumer: FakeConsumer
) -> None:
    batch_agent = agent(tmp_path, registry)
    app = batch_agent._app
    assert [t.__name__ for t in app._app_tasks] == ["refresh"], "a lag timer is registered"

    tp = TP(LAB, 0)
    consumer.assigned, consumer._committed_offset, consumer.ends = {tp}, {tp: 3}, {tp: 10}
    batch_agent.lag._consumer = lambda: consumer
    await app.on_partitions_assigned.send({tp})
    await _until(lambda: lag(registry, LAB, 0) == 7)

    await app.on_partitions_revoked.send({tp})
    assert lag(registry, LAB, 0) is None


async def test_the_timer_runs_the_refresh_periodically(
    tmp_path: Path, registry: CollectorRegistry, consumer: FakeConsumer
) -> None:
    batch_agent = agent(tmp_path, registry)
    tp = TP(LAB, 2)
    consumer.assigned, consumer._committed_offset, consumer.ends = {tp}, {tp: 1}, {tp: 2}
    batch_agent.lag._consumer = lambda: consumer
    [timer] = [t for t in batch_agent._app._app_tasks if t.__name__ == "refresh"]
    running = asyncio.ensure_future(timer())
    try:
        await _until(lambda: lag(registry, LAB, 2) == 1)
        consumer.ends[tp] = 50
        await _until(lambda: lag(registry, LAB, 2) == 49)
    finally:
        running.cancel()
        done, _ = await asyncio.wait({running}, timeout=2)  # never wait without limit
        assert running in done and running.cancelled()


async def _until(condition: Callable[[], bool], timeout: float = 2.0) -> None:
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached in time")
