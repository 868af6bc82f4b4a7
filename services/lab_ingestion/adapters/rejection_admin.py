"""The unit of work of an operator's closing of a rejection (``service_layer.rejection_admin``):
a connection of the command's pool, one read-committed transaction, the rejections bound on
it."""

from __future__ import annotations

import contextlib
from types import TracebackType
from typing import Self

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from asyncpg.transaction import Transaction

from services.lab_ingestion.adapters.rejections import RejectionStore


class RejectionAdminUnitOfWork:
    """Acquires a connection on entry and begins the transaction; what was not committed is
    rolled back on exit, and the connection released."""

    rejections: RejectionStore

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._conn: PoolConnectionProxy | None = None
        self._tx: Transaction | None = None

    async def __aenter__(self) -> Self:
        conn = self._conn = await self._pool.acquire()
        try:
            # read committed whatever the server's default: a close of a rejection a replay
            # holds waits for the replay's commit, then finds it replayed (not a
            # serialisation failure)
            self._tx = conn.transaction(isolation="read_committed")
            await self._tx.start()
        except BaseException:
            await self._release()
            raise
        self.rejections = RejectionStore(conn)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            tx, self._tx = self._tx, None
            if tx is not None:
                # a connection that is already gone committed nothing
                with contextlib.suppress(asyncpg.InterfaceError):
                    await tx.rollback()
        finally:
            await self._release()

    async def commit(self) -> None:
        tx, self._tx = self._tx, None
        if tx is None:
            raise RuntimeError("nothing to commit")
        await tx.commit()

    async def _release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await self._pool.release(conn)
