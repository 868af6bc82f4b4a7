"""The HL7 sender allow-list on real PostgreSQL: `cachexia source add | list | remove`."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from cachexia.cli import main
from services.lab_ingestion.adapters.sources import (
    add_source,
    list_sources,
    remove_source,
    sender_settings,
)
from services.lab_ingestion.domain.allow_list import Cleared
from services.lab_ingestion.domain.records import Sender
from shared.auth import Role, issue_token, list_tokens
from shared.db.migrations import AUTH_MIGRATIONS, AUTH_SCHEMA, MigrationSet, apply_migrations
from tests.integration.lab_fixtures import migrate_lab, migrated_lab_pool

pytestmark = pytest.mark.integration


async def test_settings_are_kept_replaced_or_forgotten_one_by_one(database: str) -> None:
    pool = await migrated_lab_pool(database, "sources-test")
    try:
        async with pool.acquire() as conn:
            assert await add_source(
                conn, "LIS", "ZH", time_zone="Europe/Zurich", site_id="CH-01",
                identifier_authority="HOSP",
            )  # fmt: skip
            assert not await add_source(conn, "LIS", "ZH", site_id="CH-02")
            assert await sender_settings(conn, "LIS", "ZH") == Sender(
                "Europe/Zurich", "CH-02", "HOSP"
            )
            forget = Cleared(identifier_authority=True)
            assert not await add_source(conn, "LIS", "ZH", cleared=forget)
            assert await sender_settings(conn, "LIS", "ZH") == Sender("Europe/Zurich", "CH-02")
            both = Cleared(time_zone=True, site_id=True)
            assert not await add_source(conn, "LIS", "ZH", identifier_authority="H2", cleared=both)
            assert await sender_settings(conn, "LIS", "ZH") == Sender(None, None, "H2")
            assert await add_source(conn, "AAA", "BE")
            listed = await list_sources(conn)
            assert [(s.application, s.facility) for s in listed] == [("AAA", "BE"), ("LIS", "ZH")]
            assert await remove_source(conn, "LIS", "ZH")
            assert not await remove_source(conn, "LIS", "ZH")
            assert await sender_settings(conn, "LIS", "ZH") is None
            assert [s.facility for s in await list_sources(conn)] == ["BE"]
    finally:
        await pool.close()


async def test_the_source_commands_add_list_forget_and_remove(
    database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", database)
    await migrate_lab(database)  # the commands never migrate (review 156)

    def cachexia(*args: str) -> int:
        return main(["source", *args])

    sender = ("--application", "LIS", "--facility", "HOSP")
    assert await asyncio.to_thread(cachexia, "list") == 0
    assert "no HL7 sender is allowed yet" in capsys.readouterr().err
    added = await asyncio.to_thread(
        cachexia, "add", *sender, "--time-zone", "Europe/Zurich", "--identifier-authority", "H"
    )
    out, err = capsys.readouterr()
    assert added == 0 and "allowed; local times in Europe/Zurich" in out
    assert "matched by numbers of H" in out
    assert "without --time-zone" not in err and "without --identifier-authority" not in err
    assert "warning: without --site" in err  # matched against every site's subjects
    # a setting given again alone keeps the others; --no-... forgets one
    assert await asyncio.to_thread(cachexia, "add", *sender, "--no-identifier-authority") == 0
    out, err = capsys.readouterr()
    assert "already allowed; local times in Europe/Zurich\n" in out
    assert "without --identifier-authority" in err and "without --time-zone" not in err
    assert await asyncio.to_thread(cachexia, "list") == 0
    assert capsys.readouterr().out.startswith("LIS^HOSP  added ")
    conn = await asyncpg.connect(database)
    try:
        await apply_migrations(conn, AUTH_SCHEMA, [MigrationSet("auth", AUTH_MIGRATIONS)])
        await issue_token(conn, "hosp-lis", Role.LAB, ["LIS^HOSP"])
        await issue_token(conn, "other-lis", Role.LAB, ["LIS^OTHER"])
    finally:
        await conn.close()
    assert await asyncio.to_thread(cachexia, "remove", *sender) == 0
    out, err = capsys.readouterr()
    assert "removed; its HL7 messages (MLLP, /v1/hl7) are refused" in out
    # the tokens bound to it are now refused: named, as those bound to no sender are
    assert "'hosp-lis'" in err and "other-lis" not in err and "token revoke" in err
    assert "bound to LIS^HOSP are refused" in err
    assert await asyncio.to_thread(cachexia, "remove", *sender) == 1
    err = capsys.readouterr().err  # a JSON or FHIR sender is never allow-listed: still named
    assert "no HL7 sender LIS^HOSP is allowed" in err and "'hosp-lis'" in err
    conn = await asyncpg.connect(database)
    try:
        assert await list_sources(conn) == []
    finally:
        await conn.close()
    # a FHIR token's entry is said to be one: it opens no HL7 sender (review 132)
    fhir = ("--application", "hub", "--facility", "FHIR", "--site", "CH-01")
    assert await asyncio.to_thread(cachexia, "add", *fhir) == 0
    out = capsys.readouterr().out
    assert out.startswith("FHIR token hub^FHIR: allowed (its FHIR's settings; no HL7 sender"), out


async def test_a_lab_token_is_bound_only_to_allowed_senders_or_its_own_fhir_name(
    database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bound token is refused as a sender not on the allow-list (its site would not scope
    its patients, review 69), so `token create --sender` refuses to bind one to it."""
    monkeypatch.setenv("DATABASE_URL", database)
    await migrate_lab(database)  # the commands never migrate (review 156)

    def cachexia(*args: str) -> int:
        return main(list(args))

    create = ("token", "create", "--role", "lab", "--name", "hub")
    assert await asyncio.to_thread(cachexia, *create, "--sender", "LIS^CH02") == 1
    assert "not on the allow-list: LIS^CH02" in capsys.readouterr().err
    assert await asyncio.to_thread(cachexia, *create, "--sender", "hub^FHIR") == 0  # its own
    added = ("source", "add", "--application", "LIS", "--facility", "CH02", "--site", "CH-02")
    assert await asyncio.to_thread(cachexia, *added) == 0
    assert await asyncio.to_thread(cachexia, *create, "--sender", "LIS^CH02") == 0
    conn = await asyncpg.connect(database)
    try:
        tokens = await list_tokens(conn)
    finally:
        await conn.close()
    assert sorted(t.senders or () for t in tokens) == [("LIS^CH02",), ("hub^FHIR",)]
