"""Review 156: the operator commands never migrate. Pointed at a database by a newer checkout,
`cachexia rejection list` applied that checkout's migrations, which can break the older
instances still running on it. Now every command but `migrate` (and `up`, `service`, which
migrate at their start) checks the schemas it uses against its own migrations, reading only,
and refuses (exit 2, nothing changed) when the database is behind or ahead."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from cachexia.cli import main
from services.lab_ingestion.bootstrap import definition
from tests.integration.lab_fixtures import migrate_before, migrated_lab_pool

pytestmark = pytest.mark.integration

KEY = "0123456789abcdef" * 4  # message show and replay hash ids: external infra needs a key
REJECTION = "6f1c1b8e-2f0a-4d39-9d57-0c1f3e1a2b3c"
COMMANDS = [
    ["token", "list"],
    ["token", "revoke", "--name", "lis"],
    ["source", "list"],
    ["source", "add", "--application", "LIS", "--facility", "HOSP", "--site", "CH-01"],
    ["source", "code", "list"],
    ["rejection", "list"],
    ["rejection", "show", REJECTION],
    ["replay", REJECTION, "--dry-run"],
    ["message", "show", "MSG-1", "--source", "LIS^HOSP"],
]


@pytest.fixture
def on_database(database: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", database)
    monkeypatch.setenv("CACHEXIA_SUBJECT_HMAC_KEY", KEY)
    return database


async def schemas(database: str) -> set[str]:
    conn = await asyncpg.connect(database)
    try:
        rows = await conn.fetch(
            "SELECT nspname FROM pg_namespace WHERE nspname IN ('auth', 'subject_key',"
            " 'lab_ingestion', 'crp_monitor')"
        )
    finally:
        await conn.close()
    return {row["nspname"] for row in rows}


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
async def test_a_database_never_migrated_is_left_so_and_migrate_is_named(
    command: list[str], on_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await asyncio.to_thread(main, command) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("cachexia: the database is behind this version: it lacks ")
    assert "apply them with `cachexia migrate`" in err
    assert err.count("\n") == 1
    assert await schemas(on_database) == set()  # nothing was created


async def test_a_database_one_migration_behind_is_named_so(
    on_database: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """As an older version left it; `cachexia migrate` applies the rest, then it is read."""
    last = max(definition.migrations.glob("*.sql")).stem
    await migrate_before(definition, on_database, int(last[:4]), tmp_path / "earlier")
    assert await asyncio.to_thread(main, ["rejection", "list"]) == 2
    err = capsys.readouterr().err
    assert f"it lacks 1 migration (lab_ingestion: service/{last})" in err
    assert "`cachexia migrate`" in err
    assert await asyncio.to_thread(main, ["migrate"]) == 0
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["rejection", "list"]) == 0
    assert capsys.readouterr().err == "no rejection matches\n"


async def test_a_database_a_newer_version_migrated_is_refused(
    on_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A newer version's migration applied: this checkout's code may misread its tables."""
    pool = await migrated_lab_pool(on_database, "schema-test")
    try:
        async with pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO lab_ingestion.schema_migrations (set_name, version, name, checksum)"
                " VALUES ('service', 9999, 'from_a_newer_version', 'x')"
            )
    finally:
        await pool.close()
    for command in (["rejection", "list"], ["source", "list"], ["migrate"]):
        code = await asyncio.to_thread(main, command)
        err = capsys.readouterr().err
        if command == ["migrate"]:  # migrate applies what it has; it changes nothing here
            assert code == 0
            continue
        assert code == 2, command
        assert err == (
            "cachexia: this checkout is older than the database: it lacks 1 migration "
            "(lab_ingestion: service/9999_from_a_newer_version) that a newer version applied;"
            " run this command from the version that migrated the database (never `cachexia "
            "migrate` from this one); nothing was read or changed\n"
        )
