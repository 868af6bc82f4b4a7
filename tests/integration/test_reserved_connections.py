"""ReservedConnections on real PostgreSQL: lends one connection again and again, and hands
back to the pool what failed, what is broken and, at the end, everything."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from shared.db.pool import ReservedConnections, create_pool

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(database: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database, "public", "test-reserved", min_size=2, max_size=4)
    yield pool
    await pool.close()


async def backend(conn: asyncpg.Connection) -> int:
    pid: int = await conn.fetchval("SELECT pg_backend_pid()")
    return pid


async def test_a_released_connection_is_lent_again_without_going_back_to_the_pool(
    pool: asyncpg.Pool,
) -> None:
    reserved = ReservedConnections(pool)
    first = await reserved.acquire()
    pid = await backend(first)
    await reserved.release(first)
    idle_in_pool = pool.get_idle_size()
    second = await reserved.acquire()
    assert await backend(second) == pid
    assert pool.get_idle_size() == idle_in_pool  # the pool was not asked
    await reserved.release(second)
    await reserved.close()


async def test_a_connection_whose_work_failed_goes_back_to_the_pool(pool: asyncpg.Pool) -> None:
    reserved = ReservedConnections(pool)
    conn = await reserved.acquire()
    idle_in_pool = pool.get_idle_size()
    await reserved.release(conn, failed=True)
    assert pool.get_idle_size() == idle_in_pool + 1


async def test_a_connection_left_in_a_transaction_goes_back_to_the_pool(
    pool: asyncpg.Pool,
) -> None:
    reserved = ReservedConnections(pool)
    conn = await reserved.acquire()
    await conn.execute("BEGIN")
    await reserved.release(conn)
    again = await reserved.acquire()
    assert not again.is_in_transaction()  # the pool rolled it back or gave another one
    await reserved.release(again)
    await reserved.close()


async def test_a_broken_connection_is_replaced(pool: asyncpg.Pool) -> None:
    reserved = ReservedConnections(pool)
    conn = await reserved.acquire()
    await reserved.release(conn)
    conn.terminate()  # the server or the network dropped it while it was lent out
    replacement = await reserved.acquire()
    assert await replacement.fetchval("SELECT 1") == 1
    await reserved.release(replacement)
    await reserved.close()


async def test_close_returns_every_kept_connection_so_that_the_pool_can_close(
    pool: asyncpg.Pool,
) -> None:
    reserved = ReservedConnections(pool, keep=2)
    lent = [await reserved.acquire(), await reserved.acquire()]
    for conn in lent:
        await reserved.release(conn)
    await reserved.close()
    await asyncio.wait_for(pool.close(), 5)  # waits forever for a connection never returned


async def test_it_keeps_at_most_half_the_pool(pool: asyncpg.Pool) -> None:
    reserved = ReservedConnections(pool, keep=16)  # the pool holds at most 4
    lent = [await reserved.acquire() for _ in range(4)]
    for conn in lent:
        await reserved.release(conn)
    assert pool.get_idle_size() >= 2  # two kept, two back in the pool for everyone else
    await reserved.close()
    assert pool.get_idle_size() == 4
