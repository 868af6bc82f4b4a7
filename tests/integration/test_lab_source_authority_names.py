"""A sender's assigning authority by several names on real PostgreSQL (migration 0021):
`cachexia source add --identifier-authority` repeated, names replaced, kept, forgotten and
listed; an instance of the previous version still running reads the first name."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from cachexia.cli import main
from services.lab_ingestion.adapters.sources import (
    add_source,
    list_sources,
    sender_settings,
)
from services.lab_ingestion.domain.allow_list import Cleared
from services.lab_ingestion.domain.records import Sender
from tests.integration.lab_fixtures import migrate_lab, migrated_lab_pool

pytestmark = pytest.mark.integration

# the previous version's statements, as it still runs them against the migrated schema
PREVIOUS_ALLOWED_SOURCES = (
    "SELECT application, facility, time_zone, site_id, identifier_authority"
    " FROM lab_ingestion.sources"
)
# what its `source add` writes of the authority (its other settings left out)
PREVIOUS_ADD_SOURCE = """
    INSERT INTO lab_ingestion.sources (application, facility, identifier_authority)
    VALUES ('LIS', $1, $2)
    ON CONFLICT (application, facility) DO UPDATE
       SET identifier_authority = CASE WHEN $3 THEN NULL ELSE coalesce(
               EXCLUDED.identifier_authority, sources.identifier_authority) END"""


async def previous_add(
    conn: asyncpg.Connection, facility: str, authority: str | None, *, forget: bool = False
) -> None:
    """The previous version's ``source add --identifier-authority A`` (or ``--no-...``)."""
    await conn.execute(PREVIOUS_ADD_SOURCE, facility, authority, forget)


async def test_names_are_replaced_kept_or_forgotten_together(database: str) -> None:
    pool = await migrated_lab_pool(database, "authority-names-test")
    try:
        async with pool.acquire() as conn:
            names = ("HOSP", "urn:hosp", "urn:oid:2.16.756.5.30.1.123")
            assert await add_source(conn, "LIS", "ZH", site_id="CH-01", identifier_authority=names)
            expected = Sender(None, "CH-01", "HOSP", ("urn:hosp", "urn:oid:2.16.756.5.30.1.123"))
            assert await sender_settings(conn, "LIS", "ZH") == expected
            assert not await add_source(conn, "LIS", "ZH", time_zone="Europe/Zurich")  # kept
            kept = await sender_settings(conn, "LIS", "ZH")
            assert kept is not None and kept.identifier_authorities == names
            assert not await add_source(conn, "LIS", "ZH", identifier_authority=["H2"])
            assert await sender_settings(conn, "LIS", "ZH") == Sender(
                "Europe/Zurich", "CH-01", "H2"
            )  # replaced: the other names with it
            await add_source(conn, "LIS", "ZH", identifier_authority=names)
            await add_source(conn, "LIS", "ZH", cleared=Cleared(identifier_authority=True))
            assert await sender_settings(conn, "LIS", "ZH") == Sender("Europe/Zurich", "CH-01")
            stored = await conn.fetchrow(
                "SELECT identifier_authority, identifier_authority_names FROM lab_ingestion.sources"
            )
            assert dict(stored) == {"identifier_authority": None, "identifier_authority_names": []}
    finally:
        await pool.close()


async def test_an_instance_of_the_previous_version_keeps_working(database: str) -> None:
    """It reads the first name (its one authority, as before); its `source add` that
    replaces the authority is the sender's one name, never mixed with the names kept."""
    pool = await migrated_lab_pool(database, "authority-names-previous")
    try:
        async with pool.acquire() as conn:
            await add_source(conn, "LIS", "ZH", identifier_authority=["HOSP", "urn:hosp"])
            (row,) = await conn.fetch(PREVIOUS_ALLOWED_SOURCES)
            assert row["identifier_authority"] == "HOSP"
            await previous_add(conn, "ZH", "H2")
            assert await sender_settings(conn, "LIS", "ZH") == Sender(None, None, "H2")
            await add_source(conn, "LIS", "ZH", identifier_authority=["HOSP", "urn:hosp"])
            await previous_add(conn, "ZH", None, forget=True)
            assert await sender_settings(conn, "LIS", "ZH") == Sender()
            # one it adds: no names at all (the column's default)
            await previous_add(conn, "BE", "HB")
            assert await sender_settings(conn, "LIS", "BE") == Sender(None, None, "HB")
    finally:
        await pool.close()


async def test_source_add_and_list_show_every_name(
    database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", database)
    await migrate_lab(database)  # the commands never migrate (review 156)

    def cachexia(*args: str) -> int:
        return main(["source", *args])

    sender = ("add", "--application", "LIS", "--facility", "HOSP", "--site", "CH-01")
    names = ("--identifier-authority", "HOSP", "--identifier-authority", "urn:hosp")
    assert await asyncio.to_thread(cachexia, *sender, *names) == 0
    shown = "; patients matched by numbers of HOSP (also written urn:hosp)\n"
    assert capsys.readouterr().out.endswith(shown)
    assert await asyncio.to_thread(cachexia, "list") == 0
    assert capsys.readouterr().out.endswith(shown)
    assert await asyncio.to_thread(cachexia, *sender, "--no-identifier-authority") == 0
    out, err = capsys.readouterr()
    assert "matched by numbers" not in out and "without --identifier-authority" in err
    pool = await migrated_lab_pool(database, "authority-names-cli")
    try:
        async with pool.acquire() as conn:
            assert [s.settings.identifier_authorities for s in await list_sources(conn)] == [()]
    finally:
        await pool.close()
