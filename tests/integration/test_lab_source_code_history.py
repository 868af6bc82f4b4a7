"""Migration 0026's record of every change of a sender's local code mappings, on real
PostgreSQL: written by its trigger whatever changes a mapping (`cachexia source code add |
remove`, `cachexia source remove`'s cascade, a hand-made statement), never for a change that
changes nothing, and begun with the mappings kept before it; `cachexia source code list
--history` reads it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import asyncpg
import pytest

from cachexia.cli import main
from services.lab_ingestion.adapters.local_codes import add_local_code, list_local_code_changes
from services.lab_ingestion.bootstrap import definition
from services.lab_ingestion.domain.local_codes import LocalCode, checked_local_code
from shared.db.migrations import migrate_service
from tests.integration.lab_fixtures import migrate_before, migrate_lab
from tests.integration.messaging_fixtures import until_waiting_for_a_lock

pytestmark = pytest.mark.integration

SENDER = ("--application", "LIS", "--facility", "HOSP")
CRP = ("--code", "CRP", "--system", "l")
HB = ("--code", "HB")

# a change as compared: facility, system, code and LOINC code (None: removed)
Change = tuple[str, str, str, str | None]


async def _changes(database: str, facility: str | None = None) -> list[Change]:
    """The recorded changes (of the facility's senders, when given), oldest first; their
    times are checked to be in that order."""
    conn = await asyncpg.connect(database)
    try:
        changes = await list_local_code_changes(conn, facility=facility)
    finally:
        await conn.close()
    times = [c.changed_at for c in changes]
    assert times == sorted(times)
    return [(c.facility, c.system, c.code, c.loinc) for c in changes]


def _cachexia(*args: str) -> int:
    return main(["source", *args])


async def test_the_commands_changes_are_recorded_once_each_and_listed(
    database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", database)
    await migrate_lab(database)  # the commands never migrate (review 156)

    async def cachexia(*args: str) -> int:
        return await asyncio.to_thread(_cachexia, *args)

    for facility in ("HOSP", "ZH"):
        assert await cachexia("add", "--application", "LIS", "--facility", facility) == 0
    assert await _changes(database) == []
    assert await cachexia("code", "add", *SENDER, *CRP, "--loinc", "1988-5") == 0
    crp_mapped = ("HOSP", "L", "CRP", "1988-5")
    assert await _changes(database) == [crp_mapped]
    assert await cachexia("code", "add", *SENDER, *CRP, "--loinc", "1988-5") == 0  # unchanged
    assert await cachexia("code", "add", *SENDER, *CRP, "--loinc", "30522-7") == 2  # refused
    assert await _changes(database) == [crp_mapped]
    assert await cachexia("code", "remove", *SENDER, *CRP) == 0
    crp_removed = ("HOSP", "L", "CRP", None)
    assert await _changes(database) == [crp_mapped, crp_removed]
    assert await cachexia("code", "add", *SENDER, *CRP, "--loinc", "1988-5") == 0
    assert await cachexia("code", "add", *SENDER, *HB, "--loinc", "718-7") == 0
    zh = ("--application", "LIS", "--facility", "ZH")
    assert await cachexia("code", "add", *zh, *HB, "--loinc", "718-7") == 0
    hb_mapped = ("HOSP", "", "HB", "718-7")
    assert await _changes(database, "HOSP") == [crp_mapped, crp_removed, crp_mapped, hb_mapped]
    # the sender removed: its two mappings go with it (the cascade, in no set order)
    assert await cachexia("remove", *SENDER) == 0
    hb_removed = ("HOSP", "", "HB", None)
    assert sorted((await _changes(database, "HOSP"))[4:]) == [hb_removed, crp_removed]
    assert await _changes(database, "ZH") == [("ZH", "", "HB", "718-7")]
    capsys.readouterr()
    assert await cachexia("code", "list", "--history", "--facility", "HOSP") == 0
    listed = capsys.readouterr().out.splitlines()
    assert all(line[19:22] == "Z  " for line in listed)  # format_moment's, in UTC
    shown = [line[22:] for line in listed]
    assert shown[:4] == [
        "LIS^HOSP             L        CRP              mapped to 1988-5 (crp)",
        "LIS^HOSP             L        CRP              removed",
        "LIS^HOSP             L        CRP              mapped to 1988-5 (crp)",
        "LIS^HOSP             -        HB               mapped to 718-7 (haemoglobin)",
    ]
    assert sorted(shown[4:]) == [
        "LIS^HOSP             -        HB               removed",
        "LIS^HOSP             L        CRP              removed",
    ]
    assert await cachexia("code", "list", "--history", "--application", "LAB") == 0
    assert capsys.readouterr().err == "no change of a local code mapping of LAB^* is recorded\n"


async def test_a_hand_made_statement_is_recorded_and_one_that_changes_nothing_is_not(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", database)
    await migrate_lab(database)  # the commands never migrate (review 156)
    assert await asyncio.to_thread(_cachexia, "add", *SENDER) == 0  # the tables, the sender
    conn = await asyncpg.connect(database)
    try:
        await conn.execute(
            "INSERT INTO lab_ingestion.local_codes (application, facility, system, code, loinc)"
            " VALUES ('LIS', 'HOSP', '', 'HB', '718-7')"
        )
        hb = "UPDATE lab_ingestion.local_codes SET {} WHERE code = $1"
        await conn.execute(hb.format("loinc = '59260-0'"), "HB")  # the same test, in moles
        await conn.execute(hb.format("loinc = loinc, added_at = now()"), "HB")  # nothing
        await conn.execute(hb.format("code = 'HGB'"), "HB")  # another key: the old one gone
        await conn.execute("DELETE FROM lab_ingestion.local_codes WHERE code = 'HGB'")
    finally:
        await conn.close()
    assert await _changes(database) == [
        ("HOSP", "", "HB", "718-7"),
        ("HOSP", "", "HB", "59260-0"),
        ("HOSP", "", "HB", None),
        ("HOSP", "", "HGB", "59260-0"),
        ("HOSP", "", "HGB", None),
    ]


async def test_the_mappings_kept_before_the_migration_begin_the_record(
    database: str, tmp_path: Path
) -> None:
    """An upgrade across migration 0026: each mapping kept is recorded as of when it was
    last set, and the trigger records what follows."""
    await migrate_before(definition, database, 26, tmp_path / "migrations")
    earlier, later = datetime(2026, 11, 2, 7, 30, tzinfo=UTC), datetime(2026, 11, 30, tzinfo=UTC)
    conn = await asyncpg.connect(database)
    try:
        await conn.execute(
            "INSERT INTO lab_ingestion.sources (application, facility)"
            " VALUES ('LIS', 'HOSP'), ('LIS', 'ZH')"
        )
        await conn.executemany(
            "INSERT INTO lab_ingestion.local_codes"
            " (application, facility, system, code, loinc, added_at)"
            " VALUES ('LIS', $1, $2, $3, $4, $5)",
            [("ZH", "", "HB", "718-7", later), ("HOSP", "L", "CRP", "1988-5", earlier)],
        )
        await migrate_service(
            conn, definition.schema, definition.migrations, definition.shared_migrations
        )
        kept = await list_local_code_changes(conn)
        await conn.execute("DELETE FROM lab_ingestion.sources WHERE facility = 'ZH'")
    finally:
        await conn.close()
    assert [(c.code, c.loinc, c.changed_at) for c in kept] == [
        ("CRP", "1988-5", earlier),
        ("HB", "718-7", later),
    ]
    assert (await _changes(database))[2:] == [("ZH", "", "HB", None)]


async def test_a_truncation_is_recorded_as_every_mapping_removed(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TRUNCATE fires no row trigger: a statement trigger records what it takes."""
    monkeypatch.setenv("DATABASE_URL", database)
    await migrate_lab(database)  # the commands never migrate (review 156)
    assert await asyncio.to_thread(_cachexia, "add", *SENDER) == 0
    assert (
        await asyncio.to_thread(_cachexia, "code", "add", *SENDER, *CRP, "--loinc", "1988-5") == 0
    )
    conn = await asyncpg.connect(database)
    try:
        await conn.execute("TRUNCATE lab_ingestion.local_codes")
    finally:
        await conn.close()
    assert await _changes(database) == [("HOSP", "L", "CRP", "1988-5"), ("HOSP", "L", "CRP", None)]


async def test_two_adds_of_one_code_at_once_never_change_it_in_place(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second waits for the first's insert, then is told what it kept (a mapping is
    never changed in place: review 103 found the second overwrote the first)."""
    monkeypatch.setenv("DATABASE_URL", database)
    await migrate_lab(database)  # the commands never migrate (review 156)
    assert await asyncio.to_thread(_cachexia, "add", *SENDER) == 0
    first, second = await asyncpg.connect(database), await asyncpg.connect(database)
    try:
        crp = partial(checked_local_code, "LIS", "HOSP", "L", "CRP")
        async with first.transaction():
            assert await add_local_code(first, crp("1988-5")) is None
            waiting = asyncio.ensure_future(_add_in_a_transaction(second, crp("30522-7")))
            await until_waiting_for_a_lock(first, second)  # the first's uncommitted insert
            assert not waiting.done()
        assert await waiting == "1988-5"
        kept = await first.fetchval("SELECT loinc FROM lab_ingestion.local_codes")
        assert kept == "1988-5"
    finally:
        await first.close()
        await second.close()
    assert await _changes(database) == [("HOSP", "L", "CRP", "1988-5")]


async def _add_in_a_transaction(conn: asyncpg.Connection, mapping: LocalCode) -> str | None:
    async with conn.transaction():
        return await add_local_code(conn, mapping)
