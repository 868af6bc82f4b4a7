"""API tokens on real PostgreSQL: issued, listed, resolved, revoked (rotation)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from cachexia.cli import main
from shared.auth import Role, TokenStore, issue_token
from shared.db.migrations import AUTH_MIGRATIONS, AUTH_SCHEMA, MigrationSet, apply_migrations

pytestmark = pytest.mark.integration


async def test_a_token_is_rotated_under_its_name_and_the_old_one_revoked_by_id(
    database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The new token keeps the name (FHIR results carry it as their sender, so corrections
    still find their chains); the old one is revoked by the id that `list` shows."""
    monkeypatch.setenv("DATABASE_URL", database)
    conn = await asyncpg.connect(database)
    try:
        await apply_migrations(conn, AUTH_SCHEMA, [MigrationSet("auth", AUTH_MIGRATIONS)])
        old = await issue_token(conn, "hosp-lis", Role.LAB, ["LIS^HOSP"])
        new = await issue_token(conn, "hosp-lis", Role.LAB, ["LIS^HOSP"])
        other = await issue_token(conn, "site", Role.SITE)
    finally:
        await conn.close()

    def cachexia(*args: str) -> int:
        return main(["token", *args])

    pool = await asyncpg.create_pool(database, min_size=1, max_size=2)
    try:
        store = TokenStore(pool, cache_seconds=0)
        assert await asyncio.to_thread(cachexia, "list") == 0
        listed = capsys.readouterr().out
        assert listed.count("in use") == 3 and "senders: LIS^HOSP" in listed
        assert old.token not in listed and str(old.token_id) in listed  # ids, never tokens
        assert await asyncio.to_thread(cachexia, "revoke", "--id", str(old.token_id)) == 0
        assert await store.authenticate(old.token) is None
        principal = await store.authenticate(new.token)
        assert principal is not None and principal.senders == frozenset({"LIS^HOSP"})
        assert await asyncio.to_thread(cachexia, "revoke", "--name", "hosp-lis") == 0
        assert await store.authenticate(new.token) is None
        assert await store.authenticate(other.token) is not None  # another name: untouched
        assert await asyncio.to_thread(cachexia, "revoke", "--name", "hosp-lis") == 1
        capsys.readouterr()
        assert await asyncio.to_thread(cachexia, "list") == 0
        lines = capsys.readouterr().out.splitlines()  # oldest first
        assert ["  revoked " in line for line in lines] == [True, True, False]
    finally:
        await pool.close()
