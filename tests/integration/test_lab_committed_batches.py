"""Migrations 0020 and 0027 on real PostgreSQL: a batch's write stores its attempt token and
the attempt's id, so that a retry after a lost commit answer can tell whether the batch
committed (review 58), and by which attempt (review 107).

The retry's own write is the backstop for a commit still landing when the retry asked: the
token's primary key makes it wait for that commit, and refuses it if it committed."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from services.lab_ingestion.adapters.batch_statements import PRUNE_ONE_WRITE_IN
from services.lab_ingestion.adapters.repository import UNKNOWN_ATTEMPT, LabRepository
from services.lab_ingestion.adapters.unit_of_work import LabIngestionUnitOfWork
from services.lab_ingestion.domain.model import StaleBatch
from shared.db.pool import ReservedConnections
from tests.integration.lab_fixtures import STORED_ID, migrated_lab_pool
from tests.integration.messaging_fixtures import until_waiting_for_a_lock
from tests.integration.test_lab_repository import NOW, message_with_result

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(database: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await migrated_lab_pool(database, "test-lab-committed-batches")
    yield pool
    await pool.close()


async def write(
    conn: asyncpg.Connection, n: int, token: uuid.UUID | None, attempt: uuid.UUID | None = None
) -> None:
    """Message ``n`` with its result, written under ``token`` by ``attempt``."""
    repository = LabRepository(conn, STORED_ID)
    message, result = message_with_result(n)
    repository.stage([message], [result], [], [], NOW)
    if token is not None:
        repository.stage_batch_token(token, attempt or uuid.uuid4())
    await repository.write([])


async def test_a_write_stores_its_token_and_a_second_under_it_is_refused(
    pool: asyncpg.Pool,
) -> None:
    token, attempt = uuid.uuid4(), uuid.uuid4()
    async with pool.acquire() as conn:
        repository = LabRepository(conn, STORED_ID)
        assert await repository.committed_attempt(token) is None
        await write(conn, 1, token, attempt)
        assert await repository.committed_attempt(token) == attempt
        with pytest.raises(StaleBatch):
            await write(conn, 2, token)
        assert await repository.committed_attempt(token) == attempt  # the first's, still
        await write(conn, 3, None)  # not from the group committer: no token
        assert await conn.fetchval("SELECT count(*) FROM committed_batches") == 1
        assert await conn.fetchval("SELECT count(*) FROM messages") == 2


@pytest.mark.parametrize("landed", [True, False])
async def test_a_retry_writing_while_the_earlier_commit_lands_waits_for_it(
    pool: asyncpg.Pool, landed: bool
) -> None:
    """The earlier attempt (the careful path: its transaction open) has written; the
    retry's write under the same token waits, and is refused if the earlier one commits,
    stored if it rolls back; the token then names the attempt that committed."""
    token, first, second = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with pool.acquire() as earlier, pool.acquire() as retry:
        transaction = earlier.transaction()
        await transaction.start()
        await write(earlier, 1, token, first)
        retried = asyncio.create_task(write(retry, 2, token, second))
        await until_waiting_for_a_lock(pool, retry)  # on the token's primary key
        assert not retried.done()
        await (transaction.commit() if landed else transaction.rollback())
        if landed:
            with pytest.raises(StaleBatch):
                await retried
        else:
            await retried
        assert await retry.fetchval("SELECT count(*) FROM messages") == 1
        committed = await LabRepository(retry, STORED_ID).committed_attempt(token)
        assert committed == (first if landed else second)


def token_that_prunes(prunes: bool) -> uuid.UUID:
    """A random token whose write prunes (one in ``PRUNE_ONE_WRITE_IN``), or does not."""
    while True:
        token = uuid.uuid4()
        if (token.int % PRUNE_ONE_WRITE_IN == 0) == prunes:
            return token


async def commit(pool: asyncpg.Pool, n: int, token: uuid.UUID) -> None:
    """Message ``n`` with its result, committed by the unit of work under ``token``."""
    connections = ReservedConnections(pool)
    try:
        async with LabIngestionUnitOfWork(connections, "lab-ingestion", STORED_ID) as uow:
            message, result = message_with_result(n)
            uow.labs.stage([message], [result], [], [], NOW)
            uow.labs.stage_batch_token(token, uuid.uuid4())
            await uow.commit()
    finally:
        await connections.close()


OLD_TOKENS = "SELECT count(*) FROM committed_batches WHERE committed_at < now() - interval '1 h'"


async def test_tokens_older_than_an_hour_are_pruned_after_one_write_in_many(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        await conn.execute(
            """INSERT INTO committed_batches (token, committed_at)
               SELECT gen_random_uuid(), now() - interval '61 minutes' - i * interval '1 s'
                 FROM generate_series(1, 20) AS i"""
        )
        recent = uuid.uuid4()
        await conn.execute(
            "INSERT INTO committed_batches VALUES ($1, now() - interval '59 minutes')", recent
        )
    await commit(pool, 1, token_that_prunes(False))
    assert await pool.fetchval(OLD_TOKENS) == 20
    await commit(pool, 2, token_that_prunes(True))
    assert await pool.fetchval(OLD_TOKENS) == 0
    async with pool.acquire() as conn:
        assert await LabRepository(conn, STORED_ID).committed_attempt(recent) == UNKNOWN_ATTEMPT
    assert await pool.fetchval("SELECT count(*) FROM committed_batches") == 3


async def test_a_prune_that_fails_is_ignored_and_the_write_stands(
    database: str, pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    """Review 145: the prune was part of the write, and DELETE revoked on the table made
    one write in 64 fail (the message answered AE, never stored). It runs after the
    commit, and its failure is logged by its type and ignored."""
    role = f"app_{uuid.uuid4().hex[:10]}"
    await pool.execute(
        f"CREATE ROLE {role} NOLOGIN; GRANT ALL ON SCHEMA lab_ingestion, public TO {role};"
        f" GRANT ALL ON ALL TABLES IN SCHEMA lab_ingestion, public TO {role};"
        f" GRANT ALL ON ALL FUNCTIONS IN SCHEMA lab_ingestion, public TO {role};"
        f" REVOKE DELETE ON committed_batches FROM {role};"
        """INSERT INTO committed_batches (token, committed_at)
           SELECT gen_random_uuid(), now() - interval '2 hours' FROM generate_series(1, 3)"""
    )
    as_role = await asyncpg.create_pool(
        database, min_size=1, max_size=2,
        server_settings={"search_path": "lab_ingestion,public"},
        setup=lambda conn: conn.execute(f"SET ROLE {role}"),  # each time it is lent
    )  # fmt: skip
    try:
        token = token_that_prunes(True)
        with caplog.at_level(logging.WARNING):
            await commit(as_role, 1, token)
        assert await pool.fetchval("SELECT count(*) FROM messages") == 1
        async with pool.acquire() as conn:
            assert await LabRepository(conn, STORED_ID).committed_attempt(token) is not None
        assert await pool.fetchval(OLD_TOKENS) == 3  # left for a later prune
        [warning] = [r for r in caplog.records if r.getMessage().startswith("pruning old")]
        assert warning.__dict__["error"] == "InsufficientPrivilegeError (SQLSTATE 42501)"
        await commit(as_role, 2, token_that_prunes(False))  # the connection still serves
        assert await pool.fetchval("SELECT count(*) FROM messages") == 2
    finally:
        await as_role.close()
        await pool.execute(f"DROP OWNED BY {role}; DROP ROLE {role}")
