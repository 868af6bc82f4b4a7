"""Pooled connections outside a unit of work: the outbox relay, read routes, background reads.

A unit of work reports a session that the server ended between two statements (asyncpg's
``InternalClientError`` "another operation (2) is in progress" on a connection that then
closes) as ``BrokenConnectionError``, a transient failure (``shared.db.pool.broken_connection``).
Every other user of the pool goes through ``pooled`` (one statement or several on one
connection) or ``PooledQueries`` (``pool.fetch`` and the like, one connection each), so that
it is reported so too: the relay logs a lost connection (WARNING) and tries again, a read
route answers 503 with Retry-After (``shared.web.app.answer_passing_failures``), never 500.
An ``InternalClientError`` on a connection that stays open is still raised as it is (a fault
of the driver or of its use); either way that connection is ended, never reused.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import asyncpg

from shared.db.pool import broken_connection


@contextlib.asynccontextmanager
async def pooled(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A connection of ``pool``, given back when the block ends; a session the server ended
    under the block is raised as ``BrokenConnectionError`` (transient)."""
    async with pool.acquire() as conn:
        try:
            yield conn
        except asyncpg.InternalClientError as error:
            broken = await broken_connection(conn, error)  # before the pool takes it back
            if broken is not None:
                raise broken from error
            raise


class PooledQueries:
    """``pool.fetch``, ``fetchrow`` and ``execute``, each statement on a
    connection lent by ``pooled``."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def fetch(self, query: str, *args: object) -> list[asyncpg.Record]:
        async with pooled(self.pool) as conn:
            rows: list[asyncpg.Record] = await conn.fetch(query, *args)
        return rows

    async def fetchrow(self, query: str, *args: object) -> asyncpg.Record | None:
        async with pooled(self.pool) as conn:
            row: asyncpg.Record | None = await conn.fetchrow(query, *args)
        return row

    async def execute(self, query: str, *args: object) -> str:
        async with pooled(self.pool) as conn:
            status: str = await conn.execute(query, *args)
        return status
