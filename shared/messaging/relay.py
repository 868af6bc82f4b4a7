"""The outbox relay: publishes committed events in order, then marks them sent.

At-least-once: a crash between publishing and marking republishes the batch, and the
consumers' inboxes (keyed by event id) drop the duplicates. Published rows are kept for a
retention period and their Kafka positions recorded, so that when the broker lost its data
(the embedded broker keeps messages in memory only) the relay notices that the last event
it published to a partition is gone, re-creates the topics and republishes every retained
event.

Ordering, per partition and so per key (``lab.results.v1`` is keyed by subject): every
event reaches a partition's log after every event committed before it (outbox id order),
broker restarts included. A restarted broker's log is empty, and the republished events
must come first in it. So:

* the relay publishes only while its producer is ``trusted``: the producer may open a
  connection only in the session the relay opens to read back what the broker holds
  (``fence.py``). A restarted broker breaks the producer's connections, so the relay reads
  back before its next publish (and every ``check_broker_seconds`` besides) and, when the
  last event it published to any partition is gone, queues every retained event again:
  they go out, in order, ahead of any event not yet published. A batch in flight when the
  broker went down is not resent over a new connection: it fails, and is published again
  in its turn.
* a delivery at or below an offset the relay already published to in that partition
  (a topic re-created on a live broker) proves the log lost: that batch is not marked, and
  everything retained is republished, that batch after it. Only here can a consumer have
  applied events of that one batch ahead of the lost ones.
* a read-back without an answer in time is "unknown": nothing is requeued (that would
  republish up to the retention period to every consumer); an unconfirmed relay keeps
  trying before it publishes.

Consumers of a re-created log read it from the beginning (their group's offsets were on
the broker too, and a consumer never commits an offset of the old log to the new broker:
``shared.streaming.guarded_consumer``) and their inboxes drop what they had applied, so
each consumer applies each event once, in order.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import asyncpg
from aiokafka.errors import KafkaError

from shared.db.pool import TRANSIENT_DB_ERRORS
from shared.db.pooled import PooledQueries, pooled
from shared.messaging.kafka import Delivery, KafkaPublisher, Record
from shared.messaging.published_positions import PublishedPositions
from shared.messaging.relay_leadership import Leadership, LeadershipLost
from shared.metrics import OutboxMetrics
from shared.waiting import wait_event

log = logging.getLogger(__name__)

_FETCH = """SELECT id, event_id, topic, message_key, envelope FROM outbox
            WHERE published_at IS NULL ORDER BY id LIMIT $1"""
# set_config(..., true) lasts until the end of the statement's own transaction, so only
# this mark commits without waiting for its WAL flush (see _mark_published)
_MARK = """WITH relaxed AS (SELECT set_config('synchronous_commit', 'off', true))
           UPDATE outbox SET published_at = now(), kafka_partition = u.p, kafka_offset = u.o
           FROM unnest($1::bigint[], $2::int[], $3::bigint[]) AS u(id, p, o), relaxed
           WHERE outbox.id = u.id"""
_REQUEUE = """UPDATE outbox SET published_at = NULL, kafka_partition = NULL, kafka_offset = NULL
              WHERE published_at IS NOT NULL"""
_BACKLOG = """SELECT count(*) AS n, coalesce(extract(epoch FROM now() - min(created_at)), 0) AS age
              FROM outbox WHERE published_at IS NULL"""
_PURGE = "DELETE FROM outbox WHERE published_at < now() - make_interval(secs => $1)"


@dataclass(frozen=True)
class RelaySettings:
    channel: str
    batch_size: int = 500
    poll_seconds: float = 0.05
    coalesce_seconds: float = 0.02
    check_broker_seconds: float = 2.0
    retention_seconds: float = 14 * 24 * 3600.0
    backlog_every_seconds: float = 1.0


EnsureTopics = Callable[[], Awaitable[object]]


class BrokerUnconfirmed(Exception):
    """The broker did not confirm (in time) that it still holds what was published."""


class OutboxRelay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        publisher: KafkaPublisher,
        ensure_topics: EnsureTopics,
        metrics: OutboxMetrics,
        settings: RelaySettings,
        *,
        after_publish: Callable[[Sequence[int]], Awaitable[None]] | None = None,
        wakeup: asyncio.Event | None = None,
    ) -> None:
        self._pool = pool
        # every statement on a connection of its own, a session the server ended reported
        # as a lost connection (BrokenConnectionError: transient), as in a unit of work
        self._db = PooledQueries(pool)
        self._publisher = publisher
        self._ensure_topics = ensure_topics
        self._metrics = metrics
        self._settings = settings
        self._after_publish = after_publish  # test seam: runs between publish and mark
        # set by NOTIFY from the outbox trigger, or by the service itself after a commit
        self._wakeup = wakeup if wakeup is not None else asyncio.Event()
        self._last_published = PublishedPositions()
        self._next_broker_check = 0.0
        self._next_backlog = 0.0
        self._next_purge = 0.0
        self._leadership: Leadership | None = None  # while ``run`` leads

    def wake(self) -> None:
        self._wakeup.set()

    async def run(self, stopping: asyncio.Event) -> None:
        """Publish until ``stopping`` is set; survive broker and database outages.

        Any failure is retried with back-off, not only those we foresaw: a relay that ended
        would leave the service accepting events into an outbox nobody publishes.
        Cancellation is not a failure and ends it.
        """
        backoff = 0.2
        while not stopping.is_set():
            try:
                await self._run_connected(stopping)
            except Exception as exc:  # any failure is retried (see above)
                self._report_interruption(exc)
                await wait_event(stopping, backoff)
                backoff = min(backoff * 2, 5.0)

    def _report_interruption(self, exc: Exception) -> None:
        """Count it and log its type only: a message can quote the data of an event."""
        self._metrics.count_publish_error()
        foreseen = isinstance(
            exc, (KafkaError, BrokerUnconfirmed, LeadershipLost, *TRANSIENT_DB_ERRORS)
        )
        log.log(
            logging.WARNING if foreseen else logging.ERROR,
            "outbox relay interrupted; retrying",
            extra={"error": type(exc).__name__},
        )

    async def _run_connected(self, stopping: asyncio.Event) -> None:
        """Publish while this relay leads: only while the session holding its lock is
        open (``relay_leadership``); once it is gone, LeadershipLost ends this round and
        ``run`` competes for leadership again."""
        await self._publisher.start()
        async with pooled(self._pool) as conn:
            leadership = Leadership(conn, self._settings.channel, self._on_notify)
            try:
                if not await leadership.acquire(stopping):
                    return
                self._leadership = leadership
                await self._load_last_published()
                while not stopping.is_set():
                    await leadership.keep_alive()
                    await self._housekeeping()
                    self._wakeup.clear()  # before the read: a commit after it wakes us again
                    published = await self.publish_batch()
                    if published < self._settings.batch_size:
                        await self._wait_for_more(published)
            finally:
                self._leadership = None
                await leadership.release()

    async def _wait_for_more(self, published: int) -> None:
        """Sleep until new events are announced (or the poll interval passes); then let
        ``coalesce_seconds`` more go by, so that a busy producer is relayed in batches
        instead of one round trip per committed transaction."""
        if published == 0:
            await wait_event(self._wakeup, self._settings.poll_seconds)
        await asyncio.sleep(self._settings.coalesce_seconds)

    def _on_notify(self, *_: object) -> None:
        self._wakeup.set()

    async def publish_batch(self) -> int:
        if not self._publisher.trusted():  # the producer may reach a restarted broker
            await self.republish_if_broker_lost_data()
            if not self._publisher.trusted():
                raise BrokerUnconfirmed()
        rows = await self._db.fetch(_FETCH, self._settings.batch_size)
        if not rows:
            return 0
        started = time.perf_counter()
        records = [Record(r["topic"], r["message_key"], bytes(r["envelope"])) for r in rows]
        self._confirm_leading()  # the session may have ended while we fetched
        try:
            deliveries = await self._publisher.publish(records)
        except KafkaError:
            await self._ensure_topics()  # the broker may have come back empty
            self._publisher.forget_partitions()
            raise
        overtaken = self._last_published.overtaken(rows, deliveries)
        if overtaken:  # these are republished after what the broker lost, not marked now
            await self._requeue_everything(overtaken)
            return 0
        ids = [r["id"] for r in rows]
        if self._after_publish is not None:
            await self._after_publish(ids)
        await self._mark_published(ids, deliveries)
        self._last_published.record(rows, deliveries)
        self._metrics.time_publish().observe(time.perf_counter() - started)
        for topic in {r.topic for r in records}:
            self._metrics.count_produced(topic, sum(1 for r in records if r.topic == topic))
        return len(rows)

    def _confirm_leading(self) -> None:
        """Before anything another leader would do too (publish, requeue); no round trip."""
        if self._leadership is not None:
            self._leadership.confirm()

    async def _mark_published(self, ids: Sequence[int], deliveries: Sequence[Delivery]) -> None:
        """Mark a published batch, committed asynchronously: the mark needs no WAL flush
        of its own (it is flushed with the next durable commit, or by the WAL writer within
        a fraction of a second). If PostgreSQL crashes before that, the batch is published
        again and the consumers' inboxes drop it. The services' own writes stay durable,
        and do not queue behind the relay's flushes. One statement, one round trip."""
        await self._db.execute(
            _MARK, ids, [d.partition for d in deliveries], [d.offset for d in deliveries]
        )

    async def _load_last_published(self) -> None:
        await self._last_published.load(self._db)
        self._next_broker_check = 0.0

    async def _housekeeping(self) -> None:
        """The backlog gauge first: when the broker check keeps failing (and so nothing is
        published) the gauge must show the backlog growing, not freeze. The periodic check
        republishes what a restarted broker lost even when no new event comes; before any
        publishing the producer must be trusted besides (see ``publish_batch``)."""
        now = time.monotonic()
        if now >= self._next_backlog:
            self._next_backlog = now + self._settings.backlog_every_seconds
            row = await self._db.fetchrow(_BACKLOG)
            if row is not None:
                self._metrics.set_backlog(row["n"], float(row["age"]))
        if now >= self._next_broker_check:
            await self.republish_if_broker_lost_data()
        if now >= self._next_purge:
            self._next_purge = now + 600
            await self._db.execute(_PURGE, self._settings.retention_seconds)

    async def republish_if_broker_lost_data(self) -> int:
        """Queue every retained event again if the broker no longer holds what we published.

        The producer's connections are opened first (``open_session``) and trusted only once
        the broker is confirmed or everything is queued again. For each partition we wrote
        to, the event at our last recorded offset is read back; if it is missing or another
        event, the broker lost its data (or the topic was re-created) and everything retained
        is republished, in order. Consumers' inboxes drop what they had already applied. An
        offset that retention deleted is no loss: that event was consumed long ago, and
        republishing would flood every consumer. A partition that did not answer in time is
        neither: nothing is requeued, the producer is not trusted anew, and the check runs
        again (before the next publish, if the producer is not trusted).
        """
        self._next_broker_check = time.monotonic() + self._settings.check_broker_seconds
        session = await self._publisher.open_session()
        if not self._last_published:
            self._publisher.trust(session)  # nothing published: nothing to lose
            return 0
        stored = await self._publisher.read_back(self._last_published.offsets())
        lost, unknown = self._last_published.lost_and_unknown(stored)
        if lost:
            requeued = await self._requeue_everything(lost)
            self._publisher.trust(session)
            return requeued
        if unknown:
            log.warning(
                "the broker did not answer the read-back in time; checking again",
                extra={"partitions_unknown": unknown},
            )
            return 0
        self._publisher.trust(session)
        return 0

    async def _requeue_everything(self, partitions_lost: int) -> int:
        log.warning(
            "the broker lost published events; re-creating topics and republishing",
            extra={"partitions_lost": partitions_lost},
        )
        await self._ensure_topics()
        self._publisher.forget_partitions()
        self._confirm_leading()
        result = await self._db.execute(_REQUEUE)
        self._last_published.clear()
        requeued = int(result.split()[-1])
        self._metrics.count_republished(requeued)
        self._wakeup.set()
        return requeued
