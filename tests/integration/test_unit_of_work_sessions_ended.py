"""A consumer's unit of work whose session the database ends (review 125): ended between
two statements, asyncpg used to raise its own InternalClientError ("another operation (2) is
in progress"), which a consumer took for a handler's failure (dead-lettered, or skipped when
even the dead letter failed). Every failure is now transient: the batch is retried."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from shared.db.pool import TRANSIENT_DB_ERRORS
from shared.db.unit_of_work import PostgresUnitOfWork
from tests.integration.messaging_fixtures import migrated_pool

pytestmark = pytest.mark.integration

SCHEMA = "uow_ended"
_END_SESSIONS = """
SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
 WHERE application_name = 'test-uow_ended'
"""


async def test_every_failure_of_a_unit_of_work_whose_session_is_ended_is_transient(
    database: str,
) -> None:
    pool = await migrated_pool(database, SCHEMA)
    stop = asyncio.Event()
    ended: list[int] = []

    async def end() -> None:
        conn = await asyncpg.connect(database)
        try:
            while not stop.is_set():
                ended.append(await conn.fetchval(_END_SESSIONS))
                await asyncio.sleep(0.005)
        finally:
            await conn.close()

    ender = asyncio.ensure_future(end())
    failures: list[BaseException] = []
    committed = 0
    try:
        for _ in range(1500):
            try:
                async with PostgresUnitOfWork(pool, "test") as uow:
                    await uow.connection.fetchval("SELECT 1")
                    await uow.connection.fetchval("SELECT 2")
                    await uow.commit()
                committed += 1
            except Exception as exc:  # sorted below
                failures.append(exc)
    finally:
        stop.set()
        await ender
        await pool.close()
    assert sum(ended) > 50 and committed > 0 and failures, "sessions were ended under the work"
    permanent = [
        f"{type(f).__name__}: {f}" for f in failures if not isinstance(f, TRANSIENT_DB_ERRORS)
    ]
    assert permanent == []
