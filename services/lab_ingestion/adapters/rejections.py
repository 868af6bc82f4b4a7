"""The stored rejections, as operators inspect them and a replay reads and marks them."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from services.lab_ingestion.domain.records import KeptRejection
from services.lab_ingestion.domain.rejection_states import RejectionNotOpen, RejectionState

_COLUMNS = """rejection_id, channel, source, control_id, reason_code, reason, payload,
              received_at, patient_hmac, content_digest, replayed_at, replay_outcome,
              closed_at, closed_as"""
# the filters of a listing: $1 source, $2 reason code, $3 received since, $4 open only
# (neither replayed nor closed by an operator)
_MATCHING = """($1::text IS NULL OR source = $1)
               AND ($2::text IS NULL OR reason_code = $2)
               AND ($3::timestamptz IS NULL OR received_at >= $3)
               AND (NOT $4 OR (replayed_at IS NULL AND closed_at IS NULL))"""


class RejectionStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def get(self, rejection_id: uuid.UUID) -> KeptRejection | None:
        row = await self._conn.fetchrow(
            f"SELECT {_COLUMNS} FROM rejections WHERE rejection_id = $1",  # noqa: S608 - fixed column list
            rejection_id,
        )
        return _kept(row) if row is not None else None

    async def newest(
        self,
        *,
        source: str | None = None,
        reason_code: str | None = None,
        since: datetime | None = None,
        open_only: bool = False,
        limit: int = 50,
    ) -> list[KeptRejection]:
        """The newest rejections first, those matching every filter given."""
        rows = await self._conn.fetch(
            f"""SELECT {_COLUMNS} FROM rejections WHERE {_MATCHING}
                 ORDER BY received_at DESC LIMIT $5""",  # noqa: S608 - fixed column list
            source, reason_code, since, open_only, limit,
        )  # fmt: skip
        return [_kept(row) for row in rows]

    async def count(
        self,
        *,
        source: str | None = None,
        reason_code: str | None = None,
        since: datetime | None = None,
        open_only: bool = False,
    ) -> int:
        """How many rejections match every filter given (``newest`` shows at most its limit)."""
        count: int = await self._conn.fetchval(
            f"SELECT count(*) FROM rejections WHERE {_MATCHING}",  # noqa: S608 - fixed text
            source, reason_code, since, open_only,
        )  # fmt: skip
        return count

    async def close(self, rejection_id: uuid.UUID, closed_as: str) -> datetime | None:
        """Close an open rejection (neither replayed nor closed) for ``closed_as``
        (``CLOSING_REASONS``): when, or None when it is not open."""
        closed: datetime | None = await self._conn.fetchval(
            """UPDATE rejections SET closed_at = now(), closed_as = $2
                WHERE rejection_id = $1 AND replayed_at IS NULL AND closed_at IS NULL
               RETURNING closed_at""",
            rejection_id, closed_as,
        )  # fmt: skip
        return closed

    async def lock_open(self, rejection_id: uuid.UUID) -> None:
        """Lock the rejection's row until the transaction ends, and check that it is open
        (RejectionNotOpen: replayed, closed by an operator, or gone). An operator's close,
        or another replay, of it waits for the transaction, then finds it as it left it."""
        row = await self._conn.fetchrow(
            """SELECT replayed_at, closed_at, closed_as FROM rejections
                WHERE rejection_id = $1 FOR UPDATE""",
            rejection_id,
        )
        state = _state(row)
        if state is None or not state.open:
            raise RejectionNotOpen(rejection_id, state)

    async def mark_replay(self, rejection_id: uuid.UUID, outcome: str, *, settled: bool) -> None:
        """How a replay went; ``settled``: the message is stored (or was already), so the
        rejection is closed (replayed_at), else it stays open for another replay. One no
        longer open is not marked, and RejectionNotOpen rolls the replay's transaction back:
        a replay committed under an operator's close, or over another replay's mark, was
        stored and published with its rejection saying otherwise (review 214)."""
        marked = await self._conn.fetchval(
            """UPDATE rejections
                  SET replay_outcome = $2,
                      replayed_at = CASE WHEN $3 THEN now() ELSE replayed_at END
                WHERE rejection_id = $1 AND replayed_at IS NULL AND closed_at IS NULL
               RETURNING rejection_id""",
            rejection_id, outcome, settled,
        )  # fmt: skip
        if marked is None:
            row = await self._conn.fetchrow(
                "SELECT replayed_at, closed_at, closed_as FROM rejections WHERE rejection_id = $1",
                rejection_id,
            )
            raise RejectionNotOpen(rejection_id, _state(row))


def _state(row: asyncpg.Record | None) -> RejectionState | None:
    if row is None:
        return None
    return RejectionState(row["replayed_at"], row["closed_at"], row["closed_as"])


def _kept(row: asyncpg.Record) -> KeptRejection:
    return KeptRejection(
        row["rejection_id"], row["channel"], row["source"], row["control_id"],
        row["reason_code"], row["reason"], row["payload"], row["received_at"],
        row["patient_hmac"], row["content_digest"], row["replayed_at"], row["replay_outcome"],
        row["closed_at"], row["closed_as"],
    )  # fmt: skip
