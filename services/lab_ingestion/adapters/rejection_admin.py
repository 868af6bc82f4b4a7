"""The unit of work of an operator's closing of a rejection (``service_layer.rejection_admin``):
a connection of the command's pool, one read-committed transaction (``admin_work``: a close
of a rejection a replay holds waits for the replay's commit, then finds it replayed), the
rejections bound on it."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.lab_ingestion.adapters.admin_work import ReadCommittedWork
from services.lab_ingestion.adapters.rejections import RejectionStore


class RejectionAdminUnitOfWork(ReadCommittedWork):
    """Acquires a connection of the pool on entry and releases it on exit."""

    rejections: RejectionStore

    def __init__(self, pool: asyncpg.Pool) -> None:
        super().__init__()
        self._pool = pool

    async def _connection(self) -> Any:
        return await self._pool.acquire()

    async def _let_go(self, conn: Any) -> None:
        await self._pool.release(conn)

    def _bind(self, conn: asyncpg.Connection) -> None:
        self.rejections = RejectionStore(conn)
