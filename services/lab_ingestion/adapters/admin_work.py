"""The transaction handling an operator command's unit of work shares (``sender_admin``,
``rejection_admin``): one connection, one read-committed transaction begun on entry, what
was not committed rolled back on exit, and the connection let go.

Read committed whatever the server's default: a command meeting another transaction on
the same rows (an add of a code another adds, a close of a rejection a replay holds) waits
for its commit and then reads what it left, never a serialisation failure.
"""

from __future__ import annotations

import contextlib
from types import TracebackType
from typing import Any, Self

import asyncpg
from asyncpg.transaction import Transaction


class ReadCommittedWork:
    """Subclasses say how a connection is had and let go (``_connection``, ``_let_go``)
    and bind their repositories on it (``_bind``)."""

    def __init__(self) -> None:
        self._conn: Any = None  # an asyncpg connection, or a pool's proxy of one
        self._tx: Transaction | None = None

    async def _connection(self) -> Any:
        raise NotImplementedError

    async def _let_go(self, conn: Any) -> None:
        raise NotImplementedError

    def _bind(self, conn: asyncpg.Connection) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        conn = self._conn = await self._connection()
        try:
            self._tx = conn.transaction(isolation="read_committed")
            await self._tx.start()
        except BaseException:
            await self._release()
            raise
        self._bind(conn)
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
            await self._let_go(conn)
