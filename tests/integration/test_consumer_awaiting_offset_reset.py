"""faust's livelock check leaves a consumer alive while one of its partitions awaits an offset
reset, and the consumer goes on to deliver the new log of a restarted broker (README,
"Broker restarts"; ``shared.streaming.event_path``). Real broker and platform faust app.

The consumer seeks to the beginning of a partition where its group holds no offset, as it
does at every assignment after the embedded broker's restart; until the broker answers the
ListOffsets request the partition has no fetch position. faust's check read it anyway,
aiokafka's assertion crashed the consumer, and it never fetched again (the flaky
``test_consumer_order_after_broker_restart`` timed out waiting for e5-e7 that way)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from aiokafka.structs import TopicPartition
from prometheus_client import CollectorRegistry

from shared.embedded.tansu import EmbeddedTansu
from shared.messaging.consumed import ConsumedMessage
from shared.messaging.kafka import ensure_topics
from shared.metrics import ConsumerMetrics
from shared.streaming.faust_app import BatchAgent, create_faust_app
from shared.streaming.guarded_consumer import GuardedConsumer
from tests.integration.messaging_fixtures import ends_within, eventually, produce_to_partition_0

pytestmark = pytest.mark.integration
TOPIC = "awaiting.reset.v1"
COMMIT_INTERVAL = 0.4  # faust's livelock check runs every 2.5 commit intervals: 1 s


class Recorder:
    consumer = "awaiting-reset"

    def __init__(self) -> None:
        self.applied: list[bytes] = []

    async def process_until_done(
        self, messages: Sequence[ConsumedMessage], should_stop: Callable[[], bool]
    ) -> None:
        del should_stop
        self.applied.extend(m.value or b"" for m in messages)


async def test_a_partition_awaiting_its_offset_reset_does_not_stop_the_consumer(
    broker: EmbeddedTansu, tmp_path: Path
) -> None:
    servers = broker.bootstrap_servers
    await ensure_topics(servers, [TOPIC], partitions=1)
    app = create_faust_app(
        "awaiting-reset", servers, tmp_path, commit_interval_seconds=COMMIT_INTERVAL
    )
    recorder = Recorder()
    BatchAgent(
        app, [TOPIC], recorder,  # type: ignore[arg-type]  # a recording fake processor
        ConsumerMetrics(CollectorRegistry(), "awaiting-reset"),
        batch_size=100, batch_window_seconds=0.05, shutdown_deadline_seconds=5,
        on_unapplied_at_shutdown=lambda: None,
    )  # fmt: skip
    await app.start()
    consumer = app.consumer
    assert isinstance(consumer, GuardedConsumer)
    try:
        await produce_to_partition_0(servers, TOPIC, [b"old-0", b"old-1"])
        await eventually(lambda: len(recorder.applied) == 2, 60, "the old log")
        # the broker is down: the seek's ListOffsets request is not answered
        broker.kill()
        # the seek where nothing is committed (GuardedConsumer.seek_to_committed): aiokafka's
        # waits until the broker tells the partition's beginning, which it cannot now
        thread = consumer._thread
        kafka_consumer = thread._ensure_consumer()
        tp = TopicPartition(TOPIC, 0)
        seek = asyncio.run_coroutine_threadsafe(
            kafka_consumer.seek_to_beginning(tp), thread.thread_loop
        )
        try:
            state = kafka_consumer._subscription.subscription.assignment.state_value(tp)
            await eventually(lambda: not state.has_valid_position, 10, "the seek")
            await consumer.verify_all_partitions_active()  # what faust's livelock timer runs
            await asyncio.sleep(2.5 * COMMIT_INTERVAL * 2)  # and the timer itself, twice
            assert consumer.crash_reason is None, repr(consumer.crash_reason)
        finally:
            broker.start()
        async with asyncio.timeout(30):
            await asyncio.wrap_future(seek)
        await ensure_topics(servers, [TOPIC], partitions=1)
        await produce_to_partition_0(servers, TOPIC, [b"new-0", b"new-1", b"new-2"])
        await eventually(lambda: b"new-2" in recorder.applied, 60, "the new log")
        assert consumer.crash_reason is None, repr(consumer.crash_reason)
    finally:
        await ends_within(30, app.stop())
    assert recorder.applied[2:] == [b"new-0", b"new-1", b"new-2"], recorder.applied
