"""The PostgreSQL unit of work: it owns the transaction; nothing else commits."""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from asyncpg.transaction import Transaction

from shared.db.pool import broken_connection
from shared.messaging.dead_letters import DeadLetterWriter
from shared.messaging.inbox import Inbox
from shared.messaging.outbox import OutboxWriter


class UnitOfWork(Protocol):
    """What the service layer may rely on; services extend it with their repositories."""

    outbox: OutboxWriter

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...


class PostgresUnitOfWork:
    """One connection, one transaction. Subclasses bind repositories in ``bind``."""

    def __init__(self, pool: asyncpg.Pool, service: str) -> None:
        self._pool = pool
        self.service = service
        self._conn: asyncpg.Connection | PoolConnectionProxy | None = None
        self._tx: Transaction | None = None

    @property
    def connection(self) -> asyncpg.Connection:
        if self._conn is None:
            raise RuntimeError("unit of work used outside `async with`")
        return self._conn

    def bind(self, conn: asyncpg.Connection) -> None:
        """Create repositories on ``conn``; override and call super()."""
        self.outbox = OutboxWriter(conn)
        self.dead_letters = DeadLetterWriter(conn, self.outbox, self.service)

    def inbox(self, consumer: str) -> Inbox:
        return Inbox(self.connection, consumer)

    def savepoint(self) -> Transaction:
        """A nested transaction: use ``async with uow.savepoint():`` to isolate one step."""
        return self.connection.transaction()

    async def __aenter__(self) -> Self:
        self._conn = await self._pool.acquire()
        try:
            self._tx = self._conn.transaction()
            await self._tx.start()
        except BaseException as exc:
            broken = await broken_connection(self._conn, exc)
            await self._pool.release(self._conn)
            self._conn = None
            if broken is not None:
                raise broken from exc
            raise
        self.bind(self.connection)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # a connection that the server ended, reported as asyncpg's own error: transient
        broken = await broken_connection(self._conn, exc)
        try:
            if self._tx is not None:
                await self.rollback()
        finally:
            if self._conn is not None:
                await self._pool.release(self._conn)
            self._conn = None
        if broken is not None:
            raise broken from exc

    async def flush(self) -> None:
        """Write what repositories buffered (batched inserts); override and call super()."""

    async def commit(self) -> None:
        if self._tx is None:
            raise RuntimeError("nothing to commit")
        await self.flush()
        await self.outbox.flush()
        tx, self._tx = self._tx, None
        await tx.commit()

    async def rollback(self) -> None:
        tx, self._tx = self._tx, None
        if tx is not None:
            # a connection that is already gone committed nothing
            try:
                await tx.rollback()
            except asyncpg.InterfaceError:
                pass
            except asyncpg.InternalClientError:  # its protocol is out of step: ended, and
                self.connection.terminate()  # the transaction with it; never reused
