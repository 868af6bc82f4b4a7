"""The idempotent inbox: each (consumer, event_id) is applied at most once."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg


class Inbox:
    """Claims events on the unit of work's connection; the claim commits with the state."""

    def __init__(self, conn: asyncpg.Connection, consumer: str) -> None:
        self._conn = conn
        self._consumer = consumer

    async def claim(self, event_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """Record the events as processed; return those not seen before."""
        if not event_ids:
            return set()
        rows = await self._conn.fetch(
            """INSERT INTO inbox (consumer, event_id)
               SELECT $1, unnest($2::uuid[])
               ON CONFLICT DO NOTHING
               RETURNING event_id""",
            self._consumer,
            list(dict.fromkeys(event_ids)),
        )
        return {row["event_id"] for row in rows}
