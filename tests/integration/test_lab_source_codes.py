"""Senders' local test codes on real PostgreSQL: `cachexia source code add | list | remove`,
and `cachexia source remove` taking a sender's mappings with it."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from cachexia.cli import main
from services.lab_ingestion.adapters.local_codes import list_local_codes
from services.lab_ingestion.domain.local_codes import LocalCode
from tests.integration.lab_fixtures import migrate_lab

pytestmark = pytest.mark.integration

SENDER = ("--application", "LIS", "--facility", "HOSP")


async def _kept(database: str) -> list[LocalCode]:
    conn = await asyncpg.connect(database)
    try:
        return [kept.mapping for kept in await list_local_codes(conn)]
    finally:
        await conn.close()


async def test_the_code_commands_map_list_replace_and_remove(
    database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", database)
    await migrate_lab(database)  # the commands never migrate (review 156)

    def cachexia(*args: str) -> int:
        return main(["source", *args])

    crp = ("--code", "CRP", "--system", "l")
    add_crp = ("code", "add", *SENDER, *crp, "--loinc")
    # a sender not on the allow-list: refused by name, not by the foreign key
    assert await asyncio.to_thread(cachexia, *add_crp, "1988-5") == 2
    assert "cachexia: HL7 sender LIS^HOSP is not on the allow-list" in capsys.readouterr().err
    assert await asyncio.to_thread(cachexia, "add", *SENDER, "--site", "CH-01") == 0
    capsys.readouterr()
    assert await asyncio.to_thread(cachexia, *add_crp, "30522-7") == 0
    assert await asyncio.to_thread(cachexia, *add_crp, "1988-5") == 2  # not in place
    assert "a mapping is not changed in place" in capsys.readouterr().err
    assert await _kept(database) == [LocalCode("LIS", "HOSP", "L", "CRP", "30522-7")]
    assert await asyncio.to_thread(cachexia, "code", "remove", *SENDER, *crp) == 0
    assert await asyncio.to_thread(cachexia, *add_crp, "1988-5") == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "LIS^HOSP: local code CRP (system L) is read as LOINC 1988-5 (crp); live within 2 seconds"
    )
    hb = ("--code", "HB", "--loinc", "718-7")
    assert await asyncio.to_thread(cachexia, "code", "add", *SENDER, *hb) == 0
    assert await asyncio.to_thread(cachexia, "code", "add", *SENDER, *hb) == 0
    assert capsys.readouterr().out.splitlines()[1].endswith("(haemoglobin), unchanged")
    assert await _kept(database) == [
        LocalCode("LIS", "HOSP", "", "HB", "718-7"),
        LocalCode("LIS", "HOSP", "L", "CRP", "1988-5"),
    ]
    assert await asyncio.to_thread(cachexia, "code", "list", "--application", "LIS") == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split()[:5] for line in listed] == [
        ["LIS^HOSP", "-", "HB", "718-7", "haemoglobin"],
        ["LIS^HOSP", "L", "CRP", "1988-5", "crp"],
    ]
    assert all(line.endswith("Z") for line in listed)  # added_at in UTC
    assert await asyncio.to_thread(cachexia, "list") == 0
    assert capsys.readouterr().out.endswith("; 2 local code(s) mapped\n")
    assert await asyncio.to_thread(cachexia, "code", "remove", *SENDER, *crp) == 0
    out, err = capsys.readouterr()
    assert "is no longer read as LOINC 1988-5 (crp): removed" in out and "warning:" in err
    assert await asyncio.to_thread(cachexia, "code", "remove", *SENDER, *crp) == 1
    assert "no local code CRP (system L) of LIS^HOSP is mapped" in capsys.readouterr().err
    # the sender removed takes its mappings with it, and says how many
    assert await asyncio.to_thread(cachexia, "remove", *SENDER) == 0
    assert "1 local code mapping(s) of LIS^HOSP removed with it" in capsys.readouterr().out
    assert await _kept(database) == []
    assert await asyncio.to_thread(cachexia, "code", "list") == 0
    assert capsys.readouterr().err == "no local code is mapped (cachexia source code add)\n"
