"""asyncpg repository of CRP series; rows become domain objects here."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from services.crp_monitor.domain.model import CrpMeasurement


class CrpSeriesRepository:
    """Adds are buffered and written in one statement when the unit of work flushes."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn
        self._pending: list[tuple[CrpMeasurement, uuid.UUID]] = []

    async def add(self, measurement: CrpMeasurement, source_event_id: uuid.UUID) -> None:
        self._pending.append((measurement, source_event_id))

    async def flush(self) -> None:
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        await self._conn.execute(
            """INSERT INTO crp_results (result_id, subject_id, value_mg_l, collected_at, status,
                                        supersedes_result_id, source_event_id)
               SELECT * FROM unnest($1::uuid[], $2::text[], $3::float8[], $4::timestamptz[],
                                    $5::text[], $6::uuid[], $7::uuid[])
               ON CONFLICT (result_id) DO NOTHING""",
            [m.result_id for m, _ in pending],
            [m.subject_id for m, _ in pending],
            [m.value_mg_l for m, _ in pending],
            [m.collected_at for m, _ in pending],
            [m.status for m, _ in pending],
            [m.supersedes_result_id for m, _ in pending],
            [event_id for _, event_id in pending],
        )

    async def cancel(self, result_id: uuid.UUID, at: datetime) -> bool:
        await self.flush()  # the result may be among the buffered ones
        status = await self._conn.execute(
            """UPDATE crp_results SET cancelled_at = $2
               WHERE result_id = $1 AND cancelled_at IS NULL""",
            result_id,
            at,
        )
        return bool(status.endswith(" 1"))

    async def for_subject(self, subject_id: str) -> list[CrpMeasurement]:
        rows = await self._conn.fetch(
            """SELECT result_id, subject_id, value_mg_l, collected_at, status,
                      supersedes_result_id, cancelled_at IS NOT NULL AS cancelled
               FROM crp_results WHERE subject_id = $1 ORDER BY collected_at, result_id""",
            subject_id,
        )
        return [CrpMeasurement(**dict(row)) for row in rows]
