"""The outbox publishes exactly what was committed; the inbox applies each event once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from shared.contracts.base import EventPayload
from shared.contracts.envelope import Envelope
from shared.contracts.topics import LAB_RESULTS, all_topic_names
from shared.db.unit_of_work import PostgresUnitOfWork
from shared.embedded.tansu import EmbeddedTansu
from shared.messaging.consumed import ConsumedMessage
from shared.messaging.kafka import KafkaPublisher, Readback, ensure_topics
from shared.messaging.processing import BatchProcessor
from shared.metrics import ConsumerMetrics
from tests.factories import crp_result
from tests.integration.messaging_fixtures import (
    make_relay,
    migrated_pool,
    read_topic,
    record,
)

pytestmark = pytest.mark.integration


class RelayKilled(BaseException):
    """The process dying: not an Exception, which the relay would retry."""


async def count_applied(uow: Any, envelope: Envelope, payload: EventPayload) -> None:
    del payload
    await uow.connection.execute(
        """INSERT INTO applied_events (event_id, times) VALUES ($1, 1)
           ON CONFLICT (event_id) DO UPDATE SET times = applied_events.times + 1""",
        envelope.event_id,
    )


def counting_processor(pool: Any) -> BatchProcessor:
    return BatchProcessor(
        consumer="counter",
        uow_factory=lambda: PostgresUnitOfWork(pool, "test"),
        handlers={"LabResultRecorded": count_applied},
        metrics=ConsumerMetrics(CollectorRegistry(), "test"),
    )


async def run_relay_until_idle(relay: Any, seconds: float = 1.5) -> None:
    stopping = asyncio.Event()
    task = asyncio.create_task(relay.run(stopping))
    await asyncio.sleep(seconds)
    stopping.set()
    await asyncio.wait_for(task, 10)


async def test_rolled_back_event_is_never_published_and_committed_one_is_published_once(
    database: str, broker: EmbeddedTansu
) -> None:
    pool = await migrated_pool(database, "producer")
    rolled_back, committed = crp_result("S-1", 40.0), crp_result("S-1", 41.0)
    await record(pool, LAB_RESULTS, [rolled_back], commit=False)
    await record(pool, LAB_RESULTS, [committed], commit=True)

    await run_relay_until_idle(make_relay(pool, broker.bootstrap_servers, "producer"))

    published = [
        Envelope.from_bytes(v).event_id
        for v in await read_topic(broker.bootstrap_servers, LAB_RESULTS, 1)
    ]
    assert published == [committed.event_id]
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0
    await pool.close()


def subject_key(value: bytes) -> bytes:
    """The key the relay publishes an event under: its subject's id."""
    subject = Envelope.from_bytes(value).subject_id
    assert subject is not None
    return subject.encode()


async def test_relay_killed_between_publish_and_mark_republishes_and_inbox_drops_duplicate(
    database: str, broker: EmbeddedTansu
) -> None:
    pool = await migrated_pool(database, "producer")
    events = [crp_result(f"S-{i}", 30.0 + i) for i in range(5)]
    await record(pool, LAB_RESULTS, events, commit=True)

    async def crash(_: Any) -> None:
        raise RelayKilled  # the process dies after Kafka acknowledged, before marking

    killed = make_relay(pool, broker.bootstrap_servers, "producer", after_publish=crash)
    with pytest.raises(RelayKilled):
        await asyncio.wait_for(killed.run(asyncio.Event()), 15)
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 5

    await run_relay_until_idle(make_relay(pool, broker.bootstrap_servers, "producer"))
    values = await read_topic(broker.bootstrap_servers, LAB_RESULTS, 10)
    assert len(values) == 10  # each event went out twice: at-least-once

    consumer_pool = await migrated_pool(database, "consumer")
    processor = counting_processor(consumer_pool)
    messages = [ConsumedMessage(LAB_RESULTS, 0, i, subject_key(v), v) for i, v in enumerate(values)]
    await processor.process(messages[:7])
    await processor.process(messages[7:])

    rows = await consumer_pool.fetch("SELECT event_id, times FROM applied_events")
    assert {r["event_id"] for r in rows} == {e.event_id for e in events}
    assert all(r["times"] == 1 for r in rows)
    await pool.close()
    await consumer_pool.close()


async def test_the_same_event_delivered_twice_changes_state_once(database: str) -> None:
    pool = await migrated_pool(database, "consumer")
    processor = counting_processor(pool)
    event = crp_result("S-9", 55.0)
    message = ConsumedMessage(LAB_RESULTS, 3, 10, b"S-9", event.to_bytes())
    await processor.process([message])
    await processor.process([message])  # redelivered after a crash before the offset commit
    await processor.process([message, message])  # and twice in one batch

    assert (
        await pool.fetchval("SELECT times FROM applied_events WHERE event_id = $1", event.event_id)
        == 1
    )
    assert await pool.fetchval("SELECT count(*) FROM inbox WHERE consumer = 'counter'") == 1
    await pool.close()


async def test_relay_relaxes_only_its_own_commit_and_leaves_pooled_sessions_durable(
    database: str, broker: EmbeddedTansu
) -> None:
    pool = await migrated_pool(database, "producer")  # its pool keeps session state
    await record(pool, LAB_RESULTS, [crp_result("S-1", 40.0)], commit=True)
    await run_relay_until_idle(make_relay(pool, broker.bootstrap_servers, "producer"))
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0

    # the mark commits without a WAL flush of its own (a setting local to its transaction):
    # every connection the pool lends afterwards, the one that marked among them, still
    # commits synchronously
    sessions = [await pool.acquire() for _ in range(pool.get_size())]
    try:
        settings = [await c.fetchval("SHOW synchronous_commit") for c in sessions]
    finally:
        for conn in sessions:
            await pool.release(conn)
    assert settings and set(settings) == {"on"}
    await pool.close()


async def test_the_broker_check_reads_back_what_the_broker_kept_and_misses_what_it_lost(
    database: str, broker: EmbeddedTansu
) -> None:
    pool = await migrated_pool(database, "producer")
    await record(pool, LAB_RESULTS, [crp_result("S-1", 30.0 + i) for i in range(5)], commit=True)
    await run_relay_until_idle(make_relay(pool, broker.bootstrap_servers, "producer"))
    last = await pool.fetchrow(
        """SELECT topic, kafka_partition, kafka_offset, event_id FROM outbox
           ORDER BY kafka_offset DESC LIMIT 1"""
    )
    assert last is not None and last["kafka_offset"] == 4  # one batch: 0..4 on one partition
    position = {(last["topic"], last["kafka_partition"]): last["kafka_offset"]}

    # the embedded broker reports that batch's end as 1: the event at 4 is read all the same
    kept = await _read_back(broker.bootstrap_servers, position)
    assert kept == {(LAB_RESULTS, last["kafka_partition"]): Readback(str(last["event_id"]))}

    broker.kill()  # memory storage: the log is gone
    broker.start()
    await ensure_topics(broker.bootstrap_servers, all_topic_names(), 12)
    lost = await _read_back(broker.bootstrap_servers, position)
    assert lost == {(LAB_RESULTS, last["kafka_partition"]): Readback()}
    await pool.close()


async def _read_back(servers: str, position: dict[tuple[str, int], int]) -> dict[Any, Readback]:
    publisher = KafkaPublisher(servers, client_id="read-back")
    await publisher.start()
    try:
        return await publisher.read_back(position)
    finally:
        await publisher.stop()


async def test_one_subjects_events_are_published_in_the_order_they_were_committed(
    database: str, broker: EmbeddedTansu
) -> None:
    """A correction or a cancellation never reaches a consumer before the result it changes
    (review 147: the relay reading its outbox newest first survived every test)."""
    pool = await migrated_pool(database, "order")
    events = [crp_result("S-7", 30.0 + i) for i in range(5)]
    for event in events:  # five commits, one after the other, before the relay runs
        await record(pool, LAB_RESULTS, [event], commit=True)

    await run_relay_until_idle(make_relay(pool, broker.bootstrap_servers, "order"))

    published = [
        Envelope.from_bytes(v).event_id
        for v in await read_topic(broker.bootstrap_servers, LAB_RESULTS, len(events))
    ]
    assert published == [e.event_id for e in events]
    await pool.close()
