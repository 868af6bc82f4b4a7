"""The outbox relay outlives every failure, and tells a broker that lost data from one that
only deleted old events by retention. Hand-written fakes of the pool and the publisher."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from aiokafka.errors import OffsetOutOfRangeError
from prometheus_client import CollectorRegistry

from shared.messaging import published_positions
from shared.messaging import relay as relay_module
from shared.messaging.kafka import Delivery, Readback, Record, Session
from shared.messaging.relay import BrokerUnconfirmed, OutboxRelay, RelaySettings
from shared.metrics import OutboxMetrics

TOPIC = "lab.results.v1"
SECRET = "S-4711 CRP 88 mg/L"  # what an error message may quote: never to be logged


@dataclass
class OutboxRow:
    id: int
    event_id: str
    partition: int | None = None
    offset: int | None = None

    def fetched(self) -> dict[str, Any]:
        envelope = f'{{"event_id": "{self.event_id}"}}'.encode()
        return {
            "id": self.id, "event_id": self.event_id, "topic": TOPIC,
            "message_key": "S-1", "envelope": envelope,
        }  # fmt: skip


class FakeConnection:
    """The relay's listening session: leadership is always granted. Lent outside it (a
    test calling the relay's steps one by one) it answers their statements from ``pool``."""

    pool: FakePool | None = None

    async def fetch(self, query: str, *args: Any) -> list[dict[str, Any]]:
        assert self.pool is not None
        return await self.pool.fetch(query, *args)

    async def fetchrow(self, query: str) -> dict[str, Any]:
        assert self.pool is not None
        return await self.pool.fetchrow(query)

    async def fetchval(self, query: str, *args: object) -> bool:
        del query, args
        return True

    async def add_listener(self, channel: str, callback: Callable[..., None]) -> None:
        del channel, callback

    async def remove_listener(self, channel: str, callback: Callable[..., None]) -> None:
        del channel, callback

    async def execute(self, query: str, *args: object) -> str:
        if query in ("SELECT 1", "SELECT pg_advisory_unlock_all()") or self.pool is None:
            return "SELECT 1"
        return await self.pool.execute(query, *args)

    def terminate(self) -> None:
        pass

    def is_closed(self) -> bool:
        return False


class Statements:
    """A connection lent for one of the relay's statements (``shared.db.pooled``): the
    pool's outbox answers it."""

    def __init__(self, pool: FakePool) -> None:
        self.fetch, self.fetchrow, self.execute = pool.fetch, pool.fetchrow, pool.execute


class FakePool:
    """An outbox table in memory, answering the relay's statements; ``failures`` are raised
    by the next calls of ``fetch``, one each, the way a crashed backend answers. The first
    connection lent is the relay's listening session (``new_session``), the ones lent while
    it is held are for its statements."""

    def __init__(self, rows: list[OutboxRow], failures: Sequence[BaseException] = ()) -> None:
        self.rows = rows
        self.failures = list(failures)
        self.requeues = 0
        self._session_held = False

    def new_session(self) -> FakeConnection:
        return FakeConnection()

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[FakeConnection | Statements]:
        if self._session_held:
            yield Statements(self)
            return
        self._session_held = True
        try:
            session = self.new_session()
            session.pool = self
            yield session
        finally:
            self._session_held = False

    async def fetch(self, query: str, *args: Any) -> list[dict[str, Any]]:
        if self.failures:
            raise self.failures.pop(0)
        if query == relay_module._FETCH:
            return [r.fetched() for r in self.unpublished()][: args[0]]
        assert query == published_positions._LAST_PUBLISHED
        published = [r for r in self.rows if r.partition is not None]
        last = {r.partition: r for r in sorted(published, key=lambda r: r.offset or 0)}
        return [
            {"topic": TOPIC, "partition": p, "kafka_offset": r.offset, "event_id": r.event_id}
            for p, r in last.items()
        ]

    async def fetchrow(self, query: str) -> dict[str, Any]:
        assert query == relay_module._BACKLOG
        return {"n": len(self.unpublished()), "age": 1.5}

    async def execute(self, query: str, *args: Any) -> str:
        if query == relay_module._MARK:
            ids, partitions, offsets = args
            for row in self.rows:
                if row.id in ids:
                    index = ids.index(row.id)
                    row.partition, row.offset = partitions[index], offsets[index]
            return f"UPDATE {len(ids)}"
        if query == relay_module._REQUEUE:
            self.requeues += 1
            published = [r for r in self.rows if r.partition is not None]
            for row in published:
                row.partition = row.offset = None
            return f"UPDATE {len(published)}"
        assert query == relay_module._PURGE
        return "DELETE 0"

    def unpublished(self) -> list[OutboxRow]:
        return sorted((r for r in self.rows if r.partition is None), key=lambda r: r.id)


class FakePublisher:
    """One partition per topic, its log in memory (``log``, emptied by ``restart``).
    ``read_back`` answers what ``stored`` says, or else what the log holds, or raises.
    Connections: ``connection`` counts the producer's connections, a restart breaks the
    current one; the relay's ``trust`` in a session holds while that connection does."""

    def __init__(self) -> None:
        self.published: list[bytes] = []  # everything ever sent
        self.log: list[bytes] = []  # what the broker holds
        self.stored: dict[tuple[str, int], Readback] = {}
        self.read_back_error: Exception | None = None
        self.positions_asked: list[dict[tuple[str, int], int]] = []
        self.connection = 0
        self.trusted_connection: int | None = None

    async def start(self) -> None:
        pass

    async def publish(self, records: Sequence[Record]) -> list[Delivery]:
        deliveries = []
        for record in records:
            deliveries.append(Delivery(0, len(self.log)))
            self.published.append(record.value)
            self.log.append(record.value)
        return deliveries

    def restart(self, *, reconnect: bool = True) -> None:
        """The broker comes back empty; without ``reconnect``, a topic re-created on a
        live broker (the producer's connection stays)."""
        self.log = []
        if reconnect:
            self.connection += 1

    def forget_partitions(self) -> None:
        pass

    async def open_session(self) -> Session:
        return Session((self.connection,))

    def trust(self, session: Session) -> None:
        self.trusted_connection = session.connections[0]

    def trusted(self) -> bool:
        return self.trusted_connection == self.connection

    async def read_back(
        self, positions: dict[tuple[str, int], int]
    ) -> dict[tuple[str, int], Readback]:
        self.positions_asked.append(positions)
        if self.read_back_error is not None:
            raise self.read_back_error
        return {tp: self.stored.get(tp, self._held(offset)) for tp, offset in positions.items()}

    def _held(self, offset: int) -> Readback:
        if offset >= len(self.log):
            return Readback()
        return Readback(json.loads(self.log[offset])["event_id"])

    def event_ids(self) -> list[str]:
        return [json.loads(value)["event_id"] for value in self.log]


@dataclass
class Harness:
    relay: OutboxRelay
    pool: FakePool
    publisher: FakePublisher
    registry: CollectorRegistry
    topics_ensured: list[int]

    def metric(self, name: str) -> float | None:
        return self.registry.get_sample_value(name, {"service": "unit"})


def harness(pool: FakePool, check_broker_seconds: float = 0.05) -> Harness:
    publisher, registry, ensured = FakePublisher(), CollectorRegistry(), []

    async def ensure_topics() -> None:
        ensured.append(1)

    relay = OutboxRelay(
        pool,  # a hand-written fake of asyncpg.Pool
        publisher,  # type: ignore[arg-type]  # a hand-written fake of KafkaPublisher
        ensure_topics,
        OutboxMetrics(registry, "unit"),
        RelaySettings(
            channel="unit_outbox", poll_seconds=0.01, coalesce_seconds=0.0,
            check_broker_seconds=check_broker_seconds, backlog_every_seconds=0.05,
        ),
    )  # fmt: skip
    return Harness(relay, pool, publisher, registry, ensured)


async def run_until(relay: OutboxRelay, condition: Callable[[], bool], timeout: float = 5) -> None:
    """Run the relay until ``condition`` holds (failing after ``timeout``), then stop it."""
    stopping = asyncio.Event()
    task = asyncio.create_task(relay.run(stopping))
    try:
        async with asyncio.timeout(timeout):
            while not condition():
                assert not task.done(), "the relay ended while it should keep going"
                await asyncio.sleep(0.01)
    finally:
        stopping.set()
        await asyncio.wait_for(task, 5)


def outbox(n: int) -> list[OutboxRow]:
    return [OutboxRow(i + 1, f"e-{i + 1}") for i in range(n)]


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.CrashShutdownError(SECRET),  # 57P02 after a backend crash
        asyncpg.exceptions.InternalServerError(SECRET),  # XX000: nobody foresaw it
        asyncpg.exceptions.QueryCanceledError(SECRET),  # a statement timeout
        RuntimeError(SECRET),  # a bug in a driver
    ],
    ids=lambda e: type(e).__name__,
)
async def test_the_relay_goes_on_publishing_after_any_error(
    error: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    pool = FakePool(outbox(3), failures=[error])
    h = harness(pool)
    with caplog.at_level(logging.WARNING, logger="shared.messaging.relay"):
        await run_until(h.relay, lambda: not pool.unpublished())

    assert [r.offset for r in pool.rows] == [0, 1, 2]
    assert len(h.publisher.published) == 3
    assert h.metric("cachexia_outbox_publish_errors_total") == 1
    reported = [r for r in caplog.records if r.getMessage().startswith("outbox relay interrupted")]
    assert [getattr(r, "error", None) for r in reported] == [type(error).__name__]
    assert all(SECRET not in str(r.__dict__) for r in caplog.records)


async def test_the_relay_keeps_retrying_a_failure_that_repeats() -> None:
    failures = [asyncpg.exceptions.InternalServerError(SECRET) for _ in range(3)]
    pool = FakePool(outbox(2), failures=failures)
    h = harness(pool)
    await run_until(h.relay, lambda: not pool.unpublished(), timeout=10)
    assert h.metric("cachexia_outbox_publish_errors_total") == 3


async def test_cancelling_the_relay_ends_it_at_once() -> None:
    h = harness(FakePool(outbox(1)))
    task = asyncio.create_task(h.relay.run(asyncio.Event()))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 1)
    assert h.metric("cachexia_outbox_publish_errors_total") is None  # not counted as a failure


async def test_an_offset_deleted_by_retention_is_no_loss_and_nothing_is_republished() -> None:
    pool = FakePool([OutboxRow(1, "e-1", partition=0, offset=7)])
    h = harness(pool)
    h.publisher.stored[(TOPIC, 0)] = Readback(expired=True)
    await h.relay._load_last_published()

    assert await h.relay.republish_if_broker_lost_data() == 0
    assert pool.requeues == 0
    assert h.topics_ensured == []
    assert h.publisher.positions_asked == [{(TOPIC, 0): 7}]


async def test_an_offset_the_broker_no_longer_has_republishes_every_retained_event() -> None:
    pool = FakePool([OutboxRow(1, "e-1", 0, 6), OutboxRow(2, "e-2", 0, 7)])
    h = harness(pool)
    h.publisher.stored[(TOPIC, 0)] = Readback()  # past the end of a truncated log
    await h.relay._load_last_published()

    assert await h.relay.republish_if_broker_lost_data() == 2
    assert pool.requeues == 1
    assert h.topics_ensured == [1]
    assert len(pool.unpublished()) == 2
    assert h.metric("cachexia_outbox_republished_total") == 2


async def test_another_event_at_the_offset_is_a_loss() -> None:
    pool = FakePool([OutboxRow(1, "e-1", 0, 7)])
    h = harness(pool)
    h.publisher.stored[(TOPIC, 0)] = Readback("someone-else")  # the topic was re-created
    await h.relay._load_last_published()
    assert await h.relay.republish_if_broker_lost_data() == 1


async def test_the_backlog_gauge_moves_while_the_broker_check_keeps_failing() -> None:
    rows = [OutboxRow(1, "e-1", 0, 7), *[OutboxRow(i, f"e-{i}") for i in range(2, 6)]]
    pool = FakePool(rows)
    h = harness(pool)
    h.publisher.read_back_error = OffsetOutOfRangeError({})

    await run_until(h.relay, lambda: h.metric("cachexia_outbox_publish_errors_total") is not None)

    assert h.metric("cachexia_outbox_backlog_events") == 4
    assert h.metric("cachexia_outbox_oldest_age_seconds") == 1.5
    assert h.publisher.published == []  # nothing goes out before the check has passed


async def publish_all(relay: OutboxRelay) -> None:
    while await relay.publish_batch():
        pass


def applied_in_order(seen: list[str], log: list[str]) -> list[str]:
    """What a consumer whose inbox holds ``seen`` applies, reading ``log`` from the start."""
    applied, order = set(seen), []
    for event_id in log:
        if event_id not in applied:
            applied.add(event_id)
            order.append(event_id)
    return order


async def test_a_restarted_broker_gets_the_lost_events_before_any_new_one() -> None:
    pool = FakePool(outbox(3))  # e-1..e-3: one subject, one partition of lab.results.v1
    h = harness(pool, check_broker_seconds=3600)  # no periodic check comes to the rescue
    await publish_all(h.relay)
    consumed = h.publisher.event_ids()[:2]  # the consumer applied e-1 and e-2
    h.publisher.restart()  # killed and restarted at once: no error reaches the relay
    pool.rows += [OutboxRow(4, "e-4"), OutboxRow(5, "e-5")]  # e.g. e-5 cancels e-3

    await publish_all(h.relay)

    assert h.publisher.event_ids() == ["e-1", "e-2", "e-3", "e-4", "e-5"]
    assert applied_in_order(consumed, h.publisher.event_ids()) == ["e-3", "e-4", "e-5"]
    assert [r.offset for r in pool.rows] == [0, 1, 2, 3, 4]
    assert h.metric("cachexia_outbox_republished_total") == 3


async def test_new_events_overtaking_the_lost_offset_do_not_hide_the_loss() -> None:
    pool = FakePool(outbox(3))
    h = harness(pool, check_broker_seconds=3600)
    await publish_all(h.relay)
    h.publisher.restart(reconnect=False)  # a topic re-created on a live broker
    pool.rows += [OutboxRow(i, f"e-{i}") for i in range(4, 8)]  # past e-3's offset 2

    assert await h.relay.publish_batch() == 0  # at offsets 0..3: the log began again
    assert pool.unpublished() == pool.rows  # those four are not marked ahead of e-1..e-3
    assert await h.relay.republish_if_broker_lost_data() == 0  # already queued again
    await publish_all(h.relay)

    new, lost = ["e-4", "e-5", "e-6", "e-7"], ["e-1", "e-2", "e-3"]
    assert h.publisher.event_ids() == [*new, *lost, *new]  # every event, each in order
    assert [r.offset for r in pool.rows] == list(range(4, 11))  # marked where they follow
    assert h.metric("cachexia_outbox_republished_total") == 3


async def test_a_read_back_without_an_answer_in_time_requeues_nothing() -> None:
    pool = FakePool([OutboxRow(1, "e-1", 0, 6), OutboxRow(2, "e-2", 0, 7), OutboxRow(3, "e-3")])
    h = harness(pool)
    h.publisher.stored[(TOPIC, 0)] = Readback(unknown=True)  # the partition is slow
    await h.relay._load_last_published()

    assert await h.relay.republish_if_broker_lost_data() == 0
    assert pool.requeues == 0
    assert h.topics_ensured == []
    assert not h.publisher.trusted()  # unconfirmed: nothing is published yet
    with pytest.raises(BrokerUnconfirmed):
        await h.relay.publish_batch()
    assert h.publisher.published == []

    del h.publisher.stored[(TOPIC, 0)]  # it answers, and holds no e-2 at 7: lost after all
    assert await h.relay.publish_batch() == 3
    assert h.publisher.event_ids() == ["e-1", "e-2", "e-3"]


async def test_a_slow_periodic_check_does_not_stop_a_trusted_producer() -> None:
    pool = FakePool(outbox(2))
    h = harness(pool)
    await publish_all(h.relay)
    h.publisher.stored[(TOPIC, 0)] = Readback(unknown=True)
    pool.rows.append(OutboxRow(3, "e-3"))

    await run_until(
        h.relay, lambda: not pool.unpublished() and len(h.publisher.positions_asked) > 2
    )

    assert pool.requeues == 0
    assert h.publisher.event_ids() == ["e-1", "e-2", "e-3"]
