"""``shared.db.pooled``: every use of the pool outside a unit of work (the outbox relay,
crp-monitor's read route, background reads) reports a session the server ended between two
statements as ``BrokenConnectionError`` (transient), as the units of work do (review 137)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, cast

import asyncpg
import pytest

from shared.db import pool as db_pool
from shared.db.pool import TRANSIENT_DB_ERRORS, BrokenConnectionError
from shared.db.pooled import PooledQueries, pooled
from tests.unit.test_broken_connection import FakeConnection


@dataclass
class LendingPool:
    """Lends ``conn`` as asyncpg's ``pool.acquire()`` does (an async context manager)."""

    conn: FakeConnection
    returned: list[FakeConnection] = field(default_factory=list)

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[FakeConnection]:
        try:
            yield self.conn
        finally:
            self.returned.append(self.conn)


def lending(conn: FakeConnection) -> tuple[LendingPool, asyncpg.Pool]:
    pool = LendingPool(conn)
    return pool, cast(asyncpg.Pool, pool)


async def test_a_session_ended_under_a_pooled_connection_is_a_broken_connection() -> None:
    conn = FakeConnection()
    pool, as_pool = lending(conn)
    with pytest.raises(BrokenConnectionError) as raised:
        async with pooled(as_pool):
            raise conn.fail()
    assert isinstance(raised.value, TRANSIENT_DB_ERRORS)
    assert isinstance(raised.value.__cause__, asyncpg.InternalClientError)
    assert conn.terminated and pool.returned == [conn]  # ended before it went back


async def test_an_internal_error_on_a_pooled_connection_that_stays_open_is_left_as_it_is(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(db_pool, "BROKEN_WAIT_SECONDS", 0.02)
    conn = FakeConnection(ends_after=None)
    pool, as_pool = lending(conn)
    with pytest.raises(asyncpg.InternalClientError):
        async with pooled(as_pool):
            raise conn.fail()
    assert conn.terminated and pool.returned == [conn]  # out of step: never reused


@pytest.mark.parametrize("error", [ValueError("bad data"), asyncpg.InterfaceError("closed")])
async def test_other_errors_pass_through_and_leave_the_connection_alone(
    error: Exception,
) -> None:
    conn = FakeConnection()
    pool, as_pool = lending(conn)
    with pytest.raises(type(error)):
        async with pooled(as_pool):
            raise error
    assert not conn.terminated and pool.returned == [conn]


async def test_pooled_queries_report_a_broken_connection() -> None:
    """The relay's reads and marks (``pool.fetch`` and the like, one connection each)."""
    conn = FakeConnection()

    async def fails(*_: Any) -> None:
        raise conn.fail()

    conn.fetch = conn.fetchrow = conn.execute = fails  # type: ignore[attr-defined]
    pool, as_pool = lending(conn)
    queries = PooledQueries(as_pool)
    with pytest.raises(BrokenConnectionError):
        await queries.fetch("SELECT 1")
    assert conn.terminated and pool.returned == [conn]
