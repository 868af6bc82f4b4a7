"""Where the outbox relay last published to each partition: its evidence of a lost log.

For each (topic, partition) the relay keeps the offset and event id of the last event it
published there (loaded from the outbox's marks when it starts to lead). A broker that no
longer holds that event at that offset lost its data; a delivery at or below that offset
shows a log that began again (``relay.py`` says what the relay then does).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import asyncpg

from shared.db.pooled import PooledQueries
from shared.messaging.kafka import Delivery
from shared.messaging.read_back import Readback

_LAST_PUBLISHED = """SELECT DISTINCT ON (topic, kafka_partition)
                            topic, kafka_partition AS partition, kafka_offset, event_id
                     FROM outbox WHERE published_at IS NOT NULL
                     ORDER BY topic, kafka_partition, kafka_offset DESC"""

TopicPartition = tuple[str, int]


class PublishedPositions:
    """(topic, partition) -> (offset, event id) of the last event published there."""

    def __init__(self) -> None:
        self._last: dict[TopicPartition, tuple[int, str]] = {}

    def __bool__(self) -> bool:
        return bool(self._last)

    async def load(self, db: PooledQueries) -> None:
        """What the outbox's marks say (after a restart, or another leader's publishing)."""
        rows = await db.fetch(_LAST_PUBLISHED)
        self._last = {
            (r["topic"], r["partition"]): (r["kafka_offset"], str(r["event_id"])) for r in rows
        }

    def clear(self) -> None:
        self._last.clear()

    def offsets(self) -> dict[TopicPartition, int]:
        return {tp: offset for tp, (offset, _) in self._last.items()}

    def overtaken(self, rows: Sequence[asyncpg.Record], deliveries: Sequence[Delivery]) -> int:
        """How many partitions took this batch at or below an offset we had published to
        there (before or earlier in this batch): their log was lost and began again."""
        last = self.offsets()
        overtaken = set()
        for row, delivery in zip(rows, deliveries, strict=True):
            tp = (row["topic"], delivery.partition)
            if delivery.offset <= last.get(tp, -1):
                overtaken.add(tp)
            last[tp] = delivery.offset
        return len(overtaken)

    def record(self, rows: Sequence[asyncpg.Record], deliveries: Sequence[Delivery]) -> None:
        for row, delivery in zip(rows, deliveries, strict=True):
            key = (row["topic"], delivery.partition)
            self._last[key] = (delivery.offset, str(row["event_id"]))

    def lost_and_unknown(self, stored: Mapping[TopicPartition, Readback]) -> tuple[int, int]:
        """How many partitions no longer hold their last event, and how many did not
        answer the read-back in time (a partition not in ``stored`` holds nothing)."""
        answers = [(stored.get(tp, Readback()), eid) for tp, (_, eid) in self._last.items()]
        lost = sum(1 for readback, eid in answers if readback.loses(eid))
        unknown = sum(1 for readback, _ in answers if readback.unknown)
        return lost, unknown
