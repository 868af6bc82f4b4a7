"""Read side: the CRP series of a subject as the API shows it."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.crp_monitor.adapters.repository import CrpSeriesRepository
from services.crp_monitor.domain.model import current_series


async def crp_series(pool: asyncpg.Pool, subject_id: str) -> dict[str, Any] | None:
    async with pool.acquire() as conn:
        known = await conn.fetchrow(
            "SELECT withdrawn_at FROM enrolled_subjects WHERE subject_id = $1", subject_id
        )
        measurements = await CrpSeriesRepository(conn).for_subject(subject_id)
    if known is None and not measurements:
        return None
    return {
        "subject_id": subject_id,
        "series": [
            {
                "result_id": str(m.result_id),
                "crp_mg_l": m.value_mg_l,
                "collected_at": m.collected_at.isoformat(),
                "status": m.status,
            }
            for m in current_series(measurements, known["withdrawn_at"] if known else None)
        ],
        "assessments": [],
    }
