"""asyncpg repository of CRP series; rows become domain objects here."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from services.crp_monitor.domain.model import CrpMeasurement


class CrpSeriesRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def add(self, measurement: CrpMeasurement, source_event_id: uuid.UUID) -> None:
        await self._conn.execute(
            """INSERT INTO crp_results (result_id, subject_id, value_mg_l, collected_at, status,
                                        supersedes_result_id, source_event_id)
               VALUES ($1, $2, $3, $4, $5, $6, $7)
               ON CONFLICT (result_id) DO NOTHING""",
            measurement.result_id,
            measurement.subject_id,
            measurement.value_mg_l,
            measurement.collected_at,
            measurement.status,
            measurement.supersedes_result_id,
            source_event_id,
        )

    async def cancel(self, result_id: uuid.UUID, at: datetime) -> bool:
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
