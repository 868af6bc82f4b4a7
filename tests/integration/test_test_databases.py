"""The test suite's own databases: each test's is dropped once the test is done, whatever
the test left connected, and a drop that cannot be done never fails a test."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from bench.infra import free_port
from shared.embedded.postgres import EmbeddedPostgres
from tests.conftest import drop_test_database

pytestmark = pytest.mark.integration


async def exists(admin: str, name: str) -> bool:
    conn = await asyncpg.connect(admin)
    try:
        return bool(await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
    finally:
        await conn.close()


async def test_a_database_still_in_use_is_dropped(pg_server: EmbeddedPostgres) -> None:
    admin, name = pg_server.dsn("postgres"), f"t_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    left_open = await asyncpg.connect(pg_server.dsn(name))  # a pool a test did not close
    try:
        assert await drop_test_database(admin, name)
        assert not await exists(admin, name)
        with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, OSError)):
            await left_open.fetchval("SELECT 1")  # ended by the drop
    finally:
        left_open.terminate()


async def test_a_drop_that_cannot_be_done_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    nobody = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"  # no server there
    assert await drop_test_database(nobody, "t_gone") is False
    assert any("could not drop the test database t_gone" in r.getMessage() for r in caplog.records)
