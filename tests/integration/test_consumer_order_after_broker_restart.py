"""After the embedded broker's restart, a consumer applies the new log's events in outbox order
(README, "Broker restarts"), real broker and platform faust app (see guarded_consumer).

Before it learns that the broker forgot its member (next heartbeat), the consumer still holds
its assignment and fetches the new log at its old position; faust's read-offset filter then
dropped the new log's events below it and delivered later ones first (e6 e7, then e5 only
after the rejoin)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from shared.embedded.tansu import EmbeddedTansu
from shared.messaging.consumed import ConsumedMessage
from shared.messaging.kafka import ensure_topics
from shared.metrics import ConsumerMetrics
from shared.streaming.faust_app import BatchAgent, create_faust_app
from tests.integration.messaging_fixtures import ends_within, eventually, produce_to_partition_0

pytestmark = pytest.mark.integration
TOPIC = "order.restart.v1"


class Recorder:
    consumer = "order-restart"

    def __init__(self) -> None:
        self.applied: list[tuple[int, bytes]] = []

    async def process_until_done(
        self, messages: Sequence[ConsumedMessage], should_stop: Callable[[], bool]
    ) -> None:
        del should_stop
        self.applied.extend((m.offset, m.value or b"") for m in messages)


async def test_events_of_the_new_log_are_first_applied_in_outbox_order(
    broker: EmbeddedTansu, tmp_path: Path
) -> None:
    servers = broker.bootstrap_servers
    await ensure_topics(servers, [TOPIC], partitions=1)
    app = create_faust_app("order-restart", servers, tmp_path, session_timeout_seconds=10)
    recorder = Recorder()
    BatchAgent(
        app, [TOPIC], recorder,  # type: ignore[arg-type]  # a recording fake processor
        ConsumerMetrics(CollectorRegistry(), "order-restart"),
        batch_size=100, batch_window_seconds=0.05, shutdown_deadline_seconds=5,
        on_unapplied_at_shutdown=lambda: None,
    )  # fmt: skip
    await app.start()
    try:
        # the old log held e2 twice (a relay republished it after a crash): offsets 0-5
        await produce_to_partition_0(servers, TOPIC, [b"e0", b"e1", b"e2", b"e2", b"e3", b"e4"])
        await eventually(lambda: len(recorder.applied) == 6, 60, "the old log")
        broker.kill()
        broker.start()
        await ensure_topics(servers, [TOPIC], partitions=1)
        # the relays republish everything retained, in outbox order, then new events
        await produce_to_partition_0(servers, TOPIC, [b"e%d" % i for i in range(8)])  # offsets 0-7
        await eventually(
            lambda: {b"e5", b"e6", b"e7"} <= {v for _, v in recorder.applied}, 60, "e5-e7"
        )
        await asyncio.sleep(1)
    finally:
        await ends_within(30, app.stop())
    print("APPLIED", recorder.applied)
    first: list[bytes] = []
    for _, value in recorder.applied:
        if value not in first:
            first.append(value)
    assert first == [b"e%d" % i for i in range(8)], recorder.applied
