"""API tokens on real PostgreSQL: created, resolved, bound to senders, revoked."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from cachexia.cli import main
from shared.auth import Role, TokenStore, create_token
from shared.db.migrations import AUTH_MIGRATIONS, AUTH_SCHEMA, MigrationSet, apply_migrations

pytestmark = pytest.mark.integration


async def test_a_revoked_token_is_refused_and_the_command_says_how_many(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", database)
    conn = await asyncpg.connect(database)
    try:
        await apply_migrations(conn, AUTH_SCHEMA, [MigrationSet("auth", AUTH_MIGRATIONS)])
        lis = await create_token(conn, "hosp-lis", Role.LAB, ["LIS^HOSP"])
        other = await create_token(conn, "other-lab", Role.LAB)
    finally:
        await conn.close()
    pool = await asyncpg.create_pool(database, min_size=1, max_size=2)
    try:
        store = TokenStore(pool, cache_seconds=0)
        principal = await store.authenticate(lis)
        assert principal is not None and principal.senders == frozenset({"LIS^HOSP"})
        assert await asyncio.to_thread(main, ["token", "revoke", "--name", "hosp-lis"]) == 0
        assert await store.authenticate(lis) is None
        assert await store.authenticate(other) is not None  # another name: untouched
        assert await asyncio.to_thread(main, ["token", "revoke", "--name", "hosp-lis"]) == 1
    finally:
        await pool.close()
