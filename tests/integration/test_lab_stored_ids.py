"""Accepted messages' control ids and results' keys are stored as keyed hashes (migration
0019): a name, birth date or visit number run into them by the laboratory system is in no
table, corrections and resends still find what they refer to, and ids an earlier version
stored as written are hashed when the service starts."""

from __future__ import annotations

import argparse
import uuid
from datetime import UTC, datetime

import asyncpg
import pytest

from cachexia.errors import EXIT_FAILURE
from cachexia.messages import run_message_command
from services.lab_ingestion.adapters.repository import LabRepository
from services.lab_ingestion.adapters.stored_ids import (
    hash_ids_stored_as_written,
    stored_id_hasher,
)
from services.lab_ingestion.domain.model import NormalisedResult
from services.lab_ingestion.domain.records import MessageRecord, ResultRecord
from shared.contracts.events.lab import Analyte
from shared.secrets import subject_hmac_key
from shared.settings import PlatformSettings
from tests.integration.lab_fixtures import (
    BIRTH,
    MIGRATION_0019,
    MRN,
    STORED_ID,
    as_before_migration_0019,
    ids_as_written,
    migrated_lab_pool,
    msa,
    obx,
    oru,
)
from tests.integration.test_lab_ingestion import SUBJECT, Lab, running_lab

pytestmark = pytest.mark.integration

SURNAME, VISIT = "DOE", "V5551234"
NOW = datetime(2026, 11, 20, 9, tzinfo=UTC)


async def every_stored_text(pool: asyncpg.Pool) -> str:
    """Every row of the tables of accepted messages and results, as text."""
    rows = await pool.fetch(
        "SELECT m::text AS row FROM messages m UNION ALL SELECT r::text FROM results r"
    )
    return "\n".join(r["row"] for r in rows)


def with_name(message: str, surname: str, visit: str) -> str:
    """``message`` with the patient's surname and a PV1 visit number."""
    segments = message.replace("DOE^JOHN", f"{surname}^JOHN").split("\r")
    segments.insert(2, f"PV1|1|I|||||||||||||||||{visit}")
    return "\r".join(segments)


async def test_personal_values_in_ids_are_in_no_table_and_a_correction_still_finds_its_result(
    lab: Lab,
) -> None:
    """MSH-10 and the order number built from the surname, birth date and visit number;
    the correction comes after the name's spelling and the visit number changed (the order
    number, fixed when the test was ordered, did not): it supersedes the result."""
    control_id, order = f"{SURNAME}{BIRTH}-1", f"{VISIT}-{SURNAME}-{BIRTH}"
    first = with_name(oru(control_id, [obx("1988-5", "40", "mg/L")], order=order), SURNAME, VISIT)
    corrected = with_name(
        oru(f"{SURNAME}{BIRTH}-2", [obx("1988-5", "4.0", "mg/L", status="C")], order=order),
        "DOE-SMITH",
        "V5559999",
    )
    client = await lab.mllp()
    assert msa(await client.exchange(first))[1:3] == ["AA", control_id]
    assert msa(await client.exchange(corrected))[1] == "AA"
    resent = msa(await client.exchange(first))  # its ACK lost: a duplicate, stored once
    await client.close()
    assert resent[1] == "AA" and "duplicate" in resent[3], resent

    stored = await every_stored_text(lab.pool)
    found = [v for v in (SURNAME, BIRTH, VISIT, "5559999", MRN) if v in stored]
    assert not found, (found, stored)
    rows = await lab.pool.fetch(
        "SELECT status, value, supersedes_result_id IS NOT NULL AS corrects FROM results"
        " ORDER BY recorded_at"
    )
    assert [tuple(r) for r in rows] == [("F", 40.0, False), ("C", 4.0, True)]
    assert await lab.pool.fetchval("SELECT count(*) FROM messages") == 2
    assert await lab.pool.fetchval("SELECT count(*) FROM rejections") == 0


def test_a_stored_id_is_keyed_and_tells_every_id_apart() -> None:
    other_key = stored_id_hasher(b"another deployment's subject key, 32+ chars")
    ids = ["DOE19580214-1", "doe19580214-1", "DOE19580214-1 ", "", "\ud800", "ORD1|1988-5|"]
    stored = [STORED_ID(i) for i in ids]
    assert len(set(stored)) == len(ids)
    assert all(s.startswith("#") and len(s) == 33 and "DOE" not in s for s in stored)
    assert STORED_ID("DOE19580214-1") == stored[0]  # the same every time
    assert other_key("DOE19580214-1") != stored[0]


def crp_row(message: MessageRecord, key: str) -> ResultRecord:
    crp = NormalisedResult(Analyte.CRP, "1988-5", 12.0, "mg/L", "12", "mg/L", 0, 5, None)
    subject = message.subject_id or ""
    return ResultRecord(
        uuid.uuid4(), message.message_id, subject, message.source, key, "F", crp, NOW, None, None
    )


async def store_as_an_earlier_version(
    pool: asyncpg.Pool, stored: list[tuple[str, str]], subject: str = "S-1"
) -> None:
    """Messages (control id, result key) with one result each, stored with their ids as
    written by an earlier version; then migration 0019 applied over them."""
    async with pool.acquire() as conn:
        await as_before_migration_0019(conn)
        repository = LabRepository(conn, ids_as_written)
        for control_id, key in stored:
            message = MessageRecord(
                uuid.uuid4(), "LIS^HOSP", control_id, "mllp", "accepted", subject, 1, NOW
            )
            repository.stage([message], [crp_row(message, key)], [], [], NOW)
            await repository.write([])
        await conn.execute(MIGRATION_0019)


async def test_ids_stored_as_written_are_hashed_once(database: str) -> None:
    pool = await migrated_lab_pool(database, "test-stored-ids")
    try:
        await store_as_an_earlier_version(
            pool, [("DOE-1", "ORD-DOE|1988-5|"), ("DOE-2", "ORD-DOE-2|1988-5|")]
        )
        async with pool.acquire() as conn:
            assert await hash_ids_stored_as_written(conn, STORED_ID) == 4  # 2 messages, 2 results
            assert await hash_ids_stored_as_written(conn, STORED_ID) == 0  # done: never twice
            lookup = await LabRepository(conn, STORED_ID).lookup(
                [("LIS^HOSP", "DOE-1"), ("LIS^HOSP", "DOE-3")],
                [],
                [("LIS^HOSP", "ORD-DOE|1988-5|")],
            )
            validated = await conn.fetchval(
                "SELECT bool_and(convalidated) FROM pg_constraint WHERE conname = ANY($1)",
                ["messages_control_id_hashed", "results_result_key_hashed"],
            )
        assert validated  # nothing left to hash: later starts read nothing else
        assert set(lookup.known) == {("LIS^HOSP", "DOE-1")}
        assert set(lookup.latest) == {("LIS^HOSP", "ORD-DOE|1988-5|")}
        assert "DOE" not in await every_stored_text(pool)
    finally:
        await pool.close()


async def test_the_database_refuses_an_id_stored_as_written(database: str) -> None:
    """An instance of an earlier version still running (or rolled back to) after migration
    0019 cannot store ids as written: its batch fails and its lab is told to resend."""
    pool = await migrated_lab_pool(database, "test-stored-ids")
    message = MessageRecord(uuid.uuid4(), "LIS^HOSP", "DOE-1", "mllp", "accepted", "S-1", 1, NOW)
    try:
        async with pool.acquire() as conn:
            earlier = LabRepository(conn, ids_as_written)
            earlier.stage([message], [crp_row(message, "ORD-DOE|1988-5|")], [], [], NOW)
            with pytest.raises(asyncpg.CheckViolationError):
                await earlier.write([])
            current = LabRepository(conn, STORED_ID)
            current.stage([message], [crp_row(message, "ORD-DOE|1988-5|")], [], [], NOW)
            await current.write([])
        assert "DOE" not in await every_stored_text(pool)
    finally:
        await pool.close()


async def test_the_service_hashes_ids_stored_as_written_before_it_takes_a_message(
    settings: PlatformSettings, database: str
) -> None:
    """Upgraded over a database whose ids are stored as written: the correction of a
    result stored before the upgrade, and a resend of its message, find what they refer
    to."""
    pool = await migrated_lab_pool(database, "test-stored-ids")
    try:
        await store_as_an_earlier_version(pool, [("OLD-1", "ORD1|1988-5|")], SUBJECT)
    finally:
        await pool.close()
    async with running_lab(settings, database) as lab:
        stored_id = stored_id_hasher(subject_hmac_key(settings))
        ids = await lab.pool.fetch("SELECT control_id AS id FROM messages UNION ALL"
                                   " SELECT result_key FROM results")  # fmt: skip
        assert sorted(r["id"] for r in ids) == sorted(
            [stored_id("OLD-1"), stored_id("ORD1|1988-5|")]
        )
        client = await lab.mllp()
        correction = oru("NEW-1", [obx("1988-5", "13", "mg/L", status="C")])
        ack = msa(await client.exchange(correction))
        await client.close()
        assert ack[1] == "AA", ack
        superseded = await lab.pool.fetchval(
            "SELECT count(*) FROM results c JOIN results o ON c.supersedes_result_id = o.result_id"
            " WHERE c.status = 'C' AND o.result_key = $1",
            stored_id("ORD1|1988-5|"),
        )
        assert superseded == 1


async def message_show(lab: Lab, control_id: str, source: str = "LIS^HOSP") -> int:
    args = argparse.Namespace(
        command="message", message_command="show", control_id=control_id, source=source
    )
    return await run_message_command(lab.settings, args)


async def test_a_stored_message_is_found_by_the_id_its_sender_gave_it(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    """What a laboratory asks support: did message X arrive, and what became of it."""
    client = await lab.mllp()
    assert msa(await client.exchange(oru("Q-1", [obx("1988-5", "40", "mg/L")])))[1] == "AA"
    correction = oru("Q-2", [obx("1988-5", "4", "mg/L", status="C")])
    assert msa(await client.exchange(correction))[1] == "AA"
    await client.close()

    assert await message_show(lab, "Q-2") == 0
    shown = capsys.readouterr().out
    assert f"accepted (subject {SUBJECT})" in shown and "channel:  mllp" in shown
    (line,) = [line for line in shown.splitlines() if "crp" in line]
    first = await lab.pool.fetchval("SELECT result_id FROM results WHERE status = 'F'")
    assert " C  4 mg/L" in line and f"corrects {first}" in line
    assert await message_show(lab, "Q-3") == EXIT_FAILURE
    assert "no message 'Q-3' from LIS^HOSP is stored" in capsys.readouterr().err
    assert await message_show(lab, "Q-1", source="OTHER^HOSP") == EXIT_FAILURE


async def test_more_ids_than_a_chunk_are_each_hashed_once(database: str) -> None:
    """Over two chunks (5,000 ids each): the cursor never reads an id it already hashed
    (review 53)."""
    n = 12_345
    pool = await migrated_lab_pool(database, "test-stored-ids")
    try:
        async with pool.acquire() as conn:
            await as_before_migration_0019(conn)
            await conn.execute(
                """INSERT INTO messages (message_id, source, control_id, channel, outcome,
                                         subject_id, result_count, received_at)
                   SELECT gen_random_uuid(), 'LIS^HOSP', 'DOE-' || g, 'mllp', 'accepted',
                          'S-1', 1, now()
                     FROM generate_series(1, $1) g""",
                n,
            )
            await conn.execute(
                """INSERT INTO results (result_id, message_id, subject_id, source, result_key,
                                        analyte, loinc, value, unit, original_value,
                                        original_unit, status, collected_at)
                   SELECT gen_random_uuid(), m.message_id, 'S-1', 'LIS^HOSP',
                          'ORD-' || m.control_id || '|1988-5|', 'crp', '1988-5', 1, 'mg/L',
                          '1', 'mg/L', 'F', now()
                     FROM messages m"""
            )
            await conn.execute(MIGRATION_0019)
            assert await hash_ids_stored_as_written(conn, STORED_ID) == 2 * n
        control_ids = {r[0] for r in await pool.fetch("SELECT control_id FROM messages")}
        keys = {r[0] for r in await pool.fetch("SELECT result_key FROM results")}
        assert control_ids == {STORED_ID(f"DOE-{i}") for i in range(1, n + 1)}
        assert keys == {STORED_ID(f"ORD-DOE-{i}|1988-5|") for i in range(1, n + 1)}
    finally:
        await pool.close()
