"""After the embedded broker's restart, a consumer never commits an offset of the old log.

The restarted broker's logs are new, and not the old ones offset for offset (the old one may
have held an event twice). The crash test lost results when crp-monitor committed old offsets
to the new broker and, killed later, restarted past events it had never applied. Here the real
broker and a real faust app with the platform's BatchAgent: a batch of the old log is in
flight while the broker restarts, and is done with only after the consumer was assigned the
new log; the offsets committed to the new broker must be those of the new log alone. And
aiokafka's own commit, sent without a group membership, must be refused.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import faust
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CommitFailedError
from faust.types import TP
from prometheus_client import CollectorRegistry

from shared.embedded.tansu import EmbeddedTansu
from shared.messaging.consumed import ConsumedMessage
from shared.messaging.kafka import ensure_topics
from shared.metrics import ConsumerMetrics
from shared.streaming.faust_app import BatchAgent, create_faust_app
from shared.streaming.guarded_consumer import GuardedConsumer, refuse_commits_without_membership
from tests.integration.messaging_fixtures import ends_within, eventually, produce_to_partition_0

pytestmark = pytest.mark.integration

TOPIC = "offsets.guard.v1"
PARTITION = TopicPartition(TOPIC, 0)


class HeldProcessor:
    """Applies batches in memory; holds the first batch with a ``hold`` value until released."""

    consumer = "offsets-guard"

    def __init__(self) -> None:
        self.applied: list[bytes] = []
        self.holding = asyncio.Event()
        self.release = asyncio.Event()

    async def process_until_done(
        self, messages: Sequence[ConsumedMessage], should_stop: Callable[[], bool]
    ) -> None:
        del should_stop
        if not self.release.is_set() and any(b"hold" in (m.value or b"") for m in messages):
            self.holding.set()
            await self.release.wait()
        self.applied.extend(m.value or b"" for m in messages)


def held_app(
    servers: str, tmp_path: Path, commit_interval_seconds: float = 1.0
) -> tuple[faust.App, HeldProcessor]:
    """A platform faust app whose BatchAgent hands batches to a ``HeldProcessor``."""
    app = create_faust_app(
        "offsets-guard", servers, tmp_path, session_timeout_seconds=6,
        commit_interval_seconds=commit_interval_seconds,
    )  # fmt: skip
    processor = HeldProcessor()
    BatchAgent(
        app, [TOPIC], processor,  # type: ignore[arg-type]  # a hand-written fake
        ConsumerMetrics(CollectorRegistry(), "offsets-guard"),
        batch_size=100, batch_window_seconds=0.05, shutdown_deadline_seconds=5,
        on_unapplied_at_shutdown=lambda: None,
    )  # fmt: skip
    return app, processor


async def committed(servers: str, group: str) -> int | None:
    """The group's committed offset as the broker holds it (an OffsetFetch, no join)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=servers, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        offset = await consumer.committed(PARTITION)
        return None if offset is None else int(offset)
    finally:
        await consumer.stop()


async def test_a_batch_of_the_old_log_done_after_the_restart_commits_nothing_of_it(
    broker: EmbeddedTansu, tmp_path: Path
) -> None:
    servers = broker.bootstrap_servers
    await ensure_topics(servers, [TOPIC], partitions=1)
    app, processor = held_app(servers, tmp_path)
    assignments: list[object] = []

    async def assigned(sender: Any, *args: Any, **kwargs: Any) -> None:
        assignments.append(args)

    app.on_partitions_assigned.connect(assigned)  # type: ignore[arg-type]  # mode's signal type
    await app.start()
    try:
        await produce_to_partition_0(servers, TOPIC, [b"old-%d" % i for i in range(5)])
        await eventually(lambda: len(processor.applied) == 5, 60, "the first five")
        await produce_to_partition_0(servers, TOPIC, [b"old-hold-%d" % i for i in range(5, 10)])
        await asyncio.wait_for(processor.holding.wait(), 30)  # offsets 5-9 in flight

        broker.kill()  # memory storage: the log and the group's offsets are gone
        broker.start()
        await ensure_topics(servers, [TOPIC], partitions=1)
        await eventually(lambda: len(assignments) >= 2, 90, "the assignment of the new log")
        processor.release.set()  # done with 5-9 now: their acknowledgement must count for nothing
        await produce_to_partition_0(
            servers, TOPIC, [b"new-%d" % i for i in range(3)]
        )  # the new log: offsets 0-2
        await eventually(
            lambda: {b"new-0", b"new-1", b"new-2"} <= set(processor.applied), 60, "the new log"
        )
        await asyncio.sleep(3)  # several commit intervals
        assert await committed(servers, "offsets-guard") == 3
        consumer = app.consumer
        assert isinstance(consumer, GuardedConsumer)
        assert consumer.stale_acks_dropped >= 1  # the held batch of the old log (5-9, or part)
    finally:
        processor.release.set()  # a failure above left the agent holding its batch
        await ends_within(30, app.stop())


async def test_a_commit_without_a_group_membership_is_refused(broker: EmbeddedTansu) -> None:
    """A group the broker holds no member of (as after its restart) takes a commit with
    generation -1 from anyone: the guard must not send one. A consumer assigned its partition
    by hand has no membership at all, so every commit it sends is of that kind."""
    servers = broker.bootstrap_servers
    await ensure_topics(servers, [TOPIC], partitions=1)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=servers, group_id="members-only", enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign([PARTITION])
        refuse_commits_without_membership(consumer._coordinator)
        with pytest.raises(CommitFailedError):
            await consumer.commit({PARTITION: 9})
        assert await committed(servers, "members-only") is None
    finally:
        await consumer.stop()


async def test_a_commit_in_flight_across_the_restart_never_reaches_the_new_broker(
    broker: EmbeddedTansu, tmp_path: Path
) -> None:
    """aiokafka retries a commit begun as the broker died until a broker answers: the
    restarted one, which takes the old membership's offsets for its re-created, empty group
    (review 48). The guard sends no commit through a connection opened again, nor while the
    consumer waits for its next assignment."""
    servers = broker.bootstrap_servers
    await ensure_topics(servers, [TOPIC], partitions=1)
    # commits when the test asks, as faust's timer would
    app, processor = held_app(servers, tmp_path, commit_interval_seconds=3600)
    await app.start()
    try:
        consumer = app.consumer
        assert isinstance(consumer, GuardedConsumer)
        tp = TP(TOPIC, 0)
        # the old log held e2 twice (a relay republished it after a crash): offsets 0-4
        await produce_to_partition_0(servers, TOPIC, [b"e0", b"e1", b"e2", b"e2", b"e3"])
        await eventually(lambda: len(processor.applied) == 5, 60, "the old log")
        await eventually(lambda: len(consumer._acked.get(tp, [])) == 5, 10, "the acks")
        assert await consumer.commit()
        assert await committed(servers, "offsets-guard") == 5
        await produce_to_partition_0(
            servers, TOPIC, [b"old-hold-4"]
        )  # offset 5, applied as the broker dies
        await asyncio.wait_for(processor.holding.wait(), 30)
        epoch = consumer.assignment_epoch
        processor.release.set()
        await eventually(lambda: 5 in consumer._acked.get(tp, []), 10, "the ack of offset 5")

        broker.kill()
        in_flight = asyncio.ensure_future(consumer.commit())  # faust's commit timer
        await asyncio.sleep(1)
        broker.start()  # memory storage: the log and the group's offsets are gone
        await ensure_topics(servers, [TOPIC], partitions=1)
        await asyncio.wait_for(in_flight, 30)
        await eventually(lambda: consumer.assignment_epoch > epoch + 1, 60, "the rejoin")
        await asyncio.sleep(2)
        assert await committed(servers, "offsets-guard") is None  # nothing of the old log
    finally:
        processor.release.set()
        await ends_within(30, app.stop())
