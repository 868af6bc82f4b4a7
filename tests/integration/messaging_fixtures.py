"""A producer and a consumer built from the shared library on a test schema.

They exercise the real outbox table, relay, Kafka, inbox and dead-letter writer, the
same code the services use, without any one service's domain in the way.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from prometheus_client import CollectorRegistry

from shared.contracts.envelope import Envelope
from shared.contracts.topics import all_topic_names
from shared.db.migrations import PLATFORM_MIGRATIONS, MigrationSet, apply_migrations
from shared.db.pool import create_pool
from shared.db.unit_of_work import PostgresUnitOfWork
from shared.messaging.kafka import KafkaPublisher, ensure_topics
from shared.messaging.relay import OutboxRelay, RelaySettings
from shared.metrics import OutboxMetrics

COUNTER_TABLE = Path(__file__).parent / "counter_migrations"


async def migrated_pool(dsn: str, schema: str) -> asyncpg.Pool:
    conn = await asyncpg.connect(dsn)
    try:
        await apply_migrations(
            conn,
            schema,
            [MigrationSet("platform", PLATFORM_MIGRATIONS), MigrationSet("test", COUNTER_TABLE)],
        )
    finally:
        await conn.close()
    return await create_pool(dsn, schema, f"test-{schema}")


class StoppingRelay(OutboxRelay):
    """A relay that stops its publisher when its run ends, as a service's messaging does for
    the service's relay (``ServiceMessaging.stop_publisher``): left running, each test's
    producer and offsets consumer went on reconnecting to the test's stopped broker until
    garbage collected ("Unclosed AIOKafkaProducer"), in every later test of the worker."""

    async def run(self, stopping: asyncio.Event) -> None:
        try:
            await super().run(stopping)
        finally:
            await self._publisher.stop()


def make_relay(
    pool: asyncpg.Pool,
    servers: str,
    schema: str,
    after_publish: Callable[[Any], Awaitable[None]] | None = None,
) -> OutboxRelay:
    async def topics() -> list[str]:
        return await ensure_topics(servers, all_topic_names(), 12)

    return StoppingRelay(
        pool,
        KafkaPublisher(servers, client_id=f"test-{schema}"),
        topics,
        OutboxMetrics(CollectorRegistry(), schema),
        RelaySettings(channel=f"{schema}_outbox", check_broker_seconds=0.3, poll_seconds=0.05),
        after_publish=after_publish,
    )


async def record(
    pool: asyncpg.Pool, topic: str, envelopes: list[Envelope], *, commit: bool
) -> None:
    async with PostgresUnitOfWork(pool, "test") as uow:
        for envelope in envelopes:
            uow.outbox.add(topic, envelope)
        if commit:
            await uow.commit()
        else:
            await uow.outbox.flush()  # written inside the transaction, then rolled back
            await uow.rollback()


async def read_topic(
    servers: str, topic: str, expect_at_least: int, timeout: float = 15
) -> list[bytes]:
    """Everything on ``topic`` (reading until ``expect_at_least`` or quiet for 1.5 s)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=servers, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    values: list[bytes] = []
    deadline = time.monotonic() + timeout
    quiet_since = time.monotonic()
    try:
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            got = [m.value for msgs in batch.values() for m in msgs if m.value is not None]
            values.extend(got)
            if got:
                quiet_since = time.monotonic()
            elif len(values) >= expect_at_least and time.monotonic() - quiet_since > 1.5:
                break
    finally:
        await consumer.stop()
    return values


async def read_topic_to_end(
    servers: str, topic: str, expect_at_least: int, timeout: float = 15
) -> list[bytes]:
    """Everything on ``topic`` up to its end as it is once at least ``expect_at_least``
    values were read: exact (and at once) when nothing more is on its way, the writer's
    outbox having been relayed (``read_topic`` waits for 1.5 s of quiet instead)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=servers, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    values: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=100)
            values.extend(m.value for msgs in batch.values() for m in msgs if m.value is not None)
            if len(values) >= expect_at_least and await _at_end(consumer):
                break
    finally:
        await consumer.stop()
    return values


async def _at_end(consumer: AIOKafkaConsumer) -> bool:
    partitions = consumer.assignment()
    if not partitions:
        return False
    ends = await consumer.end_offsets(list(partitions))
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return False
    return True


async def wait_until(predicate: Callable[[], Awaitable[bool]], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)


async def until_waiting_for_a_lock(
    observer: asyncpg.Connection | asyncpg.Pool, waiter: asyncpg.Connection
) -> None:
    """Until ``waiter``'s session waits for a lock it was not granted (``pg_locks``, read
    through ``observer``, which may be in a transaction: it is no statistics snapshot)."""
    pid = waiter.get_server_pid()
    awaited = "SELECT count(*) FROM pg_locks WHERE pid = $1 AND NOT granted"

    async def waiting() -> bool:
        return bool(await observer.fetchval(awaited, pid))

    await wait_until(waiting, timeout=10)


async def produce_to_partition_0(servers: str, topic: str, values: list[bytes]) -> None:
    """Each value to partition 0 of ``topic``, one after the other (acks=all)."""
    producer = AIOKafkaProducer(bootstrap_servers=servers, acks="all")
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value, partition=0)
    finally:
        await producer.stop()


async def ends_within(seconds: float, *awaitables: Awaitable[Any]) -> None:
    """Wait for each of ``awaitables`` to end, never longer than ``seconds``; re-raise the
    first failure among them. Not ``asyncio.wait_for``: after its time it waits for what it
    cancelled, which mode's ``Service.stop`` (faust) ignores, so it can wait forever. What is
    still running then is cancelled and abandoned, and the test fails naming the limit."""
    running = [asyncio.ensure_future(a) for a in awaitables]
    _, pending = await asyncio.wait(running, timeout=seconds)
    for future in pending:
        future.cancel()
    assert not pending, f"{len(pending)} still running after {seconds} s"
    for future in running:
        if not future.cancelled() and (error := future.exception()) is not None:
            raise error


async def eventually(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Wait until ``predicate()`` (a plain test of what the test holds); fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)
