"""The crp-monitor unit of work: the shared transaction plus this service's repositories."""

from __future__ import annotations

import asyncpg

from services.crp_monitor.adapters.repository import CrpSeriesRepository
from shared.subjects import SubjectsUnitOfWork


class CrpMonitorUnitOfWork(SubjectsUnitOfWork):
    def bind(self, conn: asyncpg.Connection) -> None:
        super().bind(conn)
        self.crp = CrpSeriesRepository(conn)

    async def flush(self) -> None:
        await super().flush()
        await self.crp.flush()
