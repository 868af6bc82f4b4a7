"""The outbox writer: records events inside the caller's transaction. It never commits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from shared.contracts.envelope import Envelope
from shared.contracts.topics import TOPICS


@dataclass(frozen=True)
class OutgoingEvent:
    topic: str
    envelope: Envelope

    @property
    def key(self) -> str | None:
        return self.envelope.subject_id


class OutboxWriter:
    """Adds events to the service's ``outbox`` table on the unit of work's connection."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn
        self._pending: list[OutgoingEvent] = []

    def add(self, topic: str, envelope: Envelope) -> None:
        """Queue an event; it is written by ``flush`` before the transaction commits. An
        event without a subject on a topic keyed by subject, or of a type its topic does not
        carry (an unblinded payload, the arm or the actual dose, on a blinded topic), is a
        defect of its producer, refused here rather than published."""
        spec = TOPICS.get(topic)
        if spec is not None and envelope.event_type not in spec.event_types:
            raise ValueError(f"{envelope.event_type} is not carried by {topic}")
        if spec is not None and spec.keyed_by_subject and envelope.subject_id is None:
            raise ValueError(f"{envelope.event_type} on {topic} needs a subject_id (its key)")
        self._pending.append(OutgoingEvent(topic, envelope))

    def mark(self) -> int:
        """A position in the queue, to drop what a failed step added (see ``discard_since``)."""
        return len(self._pending)

    def discard_since(self, mark: int) -> None:
        del self._pending[mark:]

    async def flush(self) -> int:
        """Write queued events in one statement. Called by the unit of work before commit."""
        events = self.take_pending()
        if not events:
            return 0
        await self._conn.execute(
            f"INSERT INTO outbox {OUTBOX_COLUMNS} SELECT * FROM {outbox_unnest(1)}",  # noqa: S608 - fixed columns and placeholders
            outbox_rows(events),
        )
        return len(events)

    def take_pending(self) -> list[OutgoingEvent]:
        """Hand the queued events to a unit of work that writes them in its own statement."""
        events, self._pending = self._pending, []
        return events


OUTBOX_COLUMNS = "(event_id, topic, message_key, event_type, envelope)"


def outbox_unnest(parameter: int) -> str:
    """``unnest`` of the outbox rows passed as parameter ``parameter`` (see ``outbox_rows``)."""
    return f"unnest(${parameter}::outbox_row[])"


def outbox_rows(events: list[OutgoingEvent]) -> list[tuple[Any, ...]]:
    """One ``outbox_row`` (shared migration 0002) per event, for ``outbox_unnest``."""
    return [
        (e.envelope.event_id, e.topic, e.key, e.envelope.event_type, e.envelope.to_bytes())
        for e in events
    ]
