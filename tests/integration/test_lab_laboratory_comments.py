"""A laboratory's comment on a result, through the real interfaces (MLLP socket, HTTP) to the
database and the broker: lab.results.v1 says the laboratory commented; the comment's text is
nowhere, neither in any row the service stores nor in the event (it may name anyone)."""

from __future__ import annotations

import shutil
import uuid
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from services.lab_ingestion.adapters.hl7_codec import parse_oru
from services.lab_ingestion.bootstrap import definition
from services.lab_ingestion.domain.message_identity import content_digest
from shared.contracts.envelope import Envelope
from shared.contracts.identity import hospital_id_hmac
from shared.contracts.topics import LAB_RESULTS
from shared.db.migrations import migrate_service
from shared.secrets import subject_hmac_key
from tests.integration.lab_fixtures import MRN, crp_observation, msa, obx, oru
from tests.integration.test_lab_ingestion import SUBJECT, Lab
from tests.integration.test_lab_phi_sweep import every_row

pytestmark = pytest.mark.integration

# a comment's text: clinical, and a person's name (which must not leave the hospital)
COMMENT = "Platelet clumps seen, called Dr HUBERMANN"
MARKS = ("clumps", "HUBERMANN")


async def rows_of_message(lab: Lab, message_id: uuid.UUID) -> list[str]:
    """Every column of the message's row, its results' and its events' (outbox), as text."""
    messages = await lab.pool.fetch(
        "SELECT m::text AS row FROM messages m WHERE message_id = $1", message_id
    )
    results = await lab.pool.fetch(
        "SELECT r::text AS row FROM results r WHERE message_id = $1", message_id
    )
    events = await lab.pool.fetch(
        """SELECT o::text || convert_from(o.envelope, 'UTF8') AS row FROM outbox o
            WHERE convert_from(o.envelope, 'UTF8')::jsonb ->> 'correlation_id' = $1""",
        str(message_id),
    )
    assert messages and results and events, (messages, results, events)
    return [r["row"] for r in (*messages, *results, *events)]


async def assert_the_text_is_nowhere(lab: Lab, message_id: uuid.UUID) -> None:
    rows = await rows_of_message(lab, message_id)
    tables = await every_row(lab)
    found = [
        (where, mark)
        for where, text in [*(("message", r) for r in rows), *tables.items()]
        for mark in MARKS
        if mark.casefold() in text.casefold()
    ]
    assert not found, found


async def raw_events(lab: Lab, at_least: int) -> list[bytes]:
    return await lab.read(LAB_RESULTS, at_least)


async def test_a_crp_followed_by_a_note_is_published_commented_and_its_text_kept_nowhere(
    lab: Lab,
) -> None:
    crp, platelets = obx("1988-5", "12", "mg/L", sub_id="1"), obx("777-3", "45", "10*9/L")
    text = oru("NTE-1", [crp]) + f"NTE|1|L|{COMMENT}\r" + f"OBX|2|{platelets}\r"
    client = await lab.mllp()
    ack = await client.exchange(text)
    await client.close()
    assert msa(ack)[1:3] == ["AA", "NTE-1"], ack

    raw = await raw_events(lab, 2)
    for value in raw:
        assert not any(mark.encode() in value for mark in MARKS), value
    events = {e.payload["analyte"]: e for e in map(Envelope.from_bytes, raw)}
    assert events["crp"].payload["laboratory_comment"] is True
    assert events["crp"].subject_id == SUBJECT
    assert "laboratory_comment" not in events["platelets"].payload  # no comment: as before

    stored = await lab.pool.fetch(
        "SELECT message_id, analyte, laboratory_comment FROM results ORDER BY analyte"
    )
    assert [(r["analyte"], r["laboratory_comment"]) for r in stored] == [
        ("crp", True), ("platelets", False),
    ]  # fmt: skip
    await assert_the_text_is_nowhere(lab, stored[0]["message_id"])


async def test_a_comment_added_under_a_stored_messages_id_is_no_resend(lab: Lab) -> None:
    """The same MSH-10 resent with a note: other content, refused as a reused id (answered
    as a duplicate, the comment would be dropped unseen); resent as it was, a duplicate."""
    plain = oru("NTE-2", [obx("1988-5", "12", "mg/L")])
    client = await lab.mllp()
    assert msa(await client.exchange(plain))[1] == "AA"
    assert msa(await client.exchange(plain + f"NTE|1||{COMMENT}\r"))[1] == "AE"
    assert msa(await client.exchange(plain))[1] == "AA"
    await client.close()
    reasons = await lab.pool.fetch("SELECT reason_code, reason, payload FROM rejections")
    assert [r["reason_code"] for r in reasons] == ["reused-message-id"]
    assert "HUBERMANN" not in reasons[0]["reason"]
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 1


async def test_a_message_stored_before_comments_were_read_is_known_when_resent(
    lab: Lab,
) -> None:
    """Stored by the version before, its digest never covered the note the message carried
    (dropped then): the lab's resend of it, note and all, is a duplicate, not a reused id,
    because migration 0023 marks the digests made before comments were read."""
    text = oru("NTE-3", [obx("1988-5", "12", "mg/L")]) + f"NTE|1||{COMMENT}\r"
    client = await lab.mllp()
    assert msa(await client.exchange(text))[1] == "AA"
    key = subject_hmac_key(lab.settings)
    message, _ = parse_oru(text, identify=partial(hospital_id_hmac, key))
    as_before = content_digest(message, hospital_id_hmac(key, MRN), comments=False)
    control_id = lab.stored_id("NTE-3")
    stored = await lab.pool.fetchval(
        "SELECT content_digest FROM messages WHERE control_id = $1", control_id
    )
    assert stored not in (None, as_before)  # the digest made now covers the comment
    # the row as the version before stored it: its digest made without the comment ...
    await lab.pool.execute(
        "UPDATE messages SET content_digest = $2 WHERE control_id = $1", control_id, as_before
    )
    # ... which, unmarked, would take the resend for other content under a reused id
    assert msa(await client.exchange(text))[1] == "AE"
    await lab.pool.execute(
        "UPDATE messages SET digest_covers_comments = false WHERE control_id = $1", control_id
    )
    assert msa(await client.exchange(text))[1] == "AA"  # marked, as 0023 marks it: a resend
    await client.close()
    reasons = await lab.pool.fetch("SELECT reason_code FROM rejections")
    assert [r["reason_code"] for r in reasons] == ["reused-message-id"]  # the unmarked one
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 1


async def post(lab: Lab, path: str, body: dict[str, Any]) -> int:
    headers = {"Authorization": f"Bearer {lab.lab_token}"}
    async with (
        aiohttp.ClientSession(headers=headers) as http,
        http.post(f"{lab.http}{path}", json=body) as response,
    ):
        return response.status


async def test_a_fhir_observation_note_is_published_as_a_comment_and_its_text_kept_nowhere(
    lab: Lab,
) -> None:
    noted = crp_observation("OBS-NOTE")
    noted["note"] = [{"authorString": "Dr HUBERMANN", "text": COMMENT}]
    assert await post(lab, "/fhir/Observation", noted) == 201
    assert await post(lab, "/fhir/Observation", crp_observation("OBS-PLAIN")) == 201

    raw = await raw_events(lab, 2)
    for value in raw:
        assert not any(mark.encode() in value for mark in MARKS), value
    flags = sorted(Envelope.from_bytes(v).payload.get("laboratory_comment", False) for v in raw)
    assert flags == [False, True]
    stored = await lab.pool.fetch("SELECT message_id FROM results WHERE laboratory_comment")
    assert len(stored) == 1
    await assert_the_text_is_nowhere(lab, stored[0]["message_id"])


async def test_the_json_formats_flag_is_published(lab: Lab) -> None:
    result = {
        "result_id": "R-NOTE", "loinc": "1988-5", "value": "12", "unit": "mg/L",
        "status": "final", "collected_at": "2026-11-20T08:00:00+01:00",
        "laboratory_comment": True,
    }  # fmt: skip
    body = {
        "message_id": "J-NOTE", "source": {"application": "LIS", "facility": "HOSP"},
        "patient": {"identifier": "MRN4711"}, "results": [result],
    }  # fmt: skip
    assert await post(lab, "/v1/lab-results", body) == 202
    (event,) = [Envelope.from_bytes(v) for v in await raw_events(lab, 1)]
    assert event.payload["laboratory_comment"] is True
    assert await lab.pool.fetchval("SELECT laboratory_comment FROM results") is True


async def test_migration_0023_reads_rows_stored_before_as_without_comments(
    database: str, tmp_path: Path
) -> None:
    """Results stored before read false (not known); messages stored before have digests
    that do not cover comments; every message stored after it, digests that do."""
    before = tmp_path / "migrations"
    before.mkdir()
    for path in sorted(definition.migrations.glob("*.sql")):
        if int(path.name[:4]) < 23:
            shutil.copy(path, before / path.name)
    conn = await asyncpg.connect(database)
    try:
        await migrate_service(conn, definition.schema, before, definition.shared_migrations)
        await conn.execute(f"SET search_path TO {definition.schema}")
        now = datetime(2026, 11, 20, 8, tzinfo=UTC)
        old = await _store_message(conn, "#" + "a" * 32, now)
        await conn.execute(
            """INSERT INTO results (result_id, message_id, subject_id, source, result_key,
                   analyte, loinc, value, unit, original_value, original_unit, status,
                   collected_at)
               VALUES (gen_random_uuid(), $1, 'S-1', 'LIS^HOSP', $2, 'crp', '1988-5', 12,
                       'mg/L', '12', 'mg/L', 'F', $3)""",
            old, "#" + "b" * 32, now,
        )  # fmt: skip
        await migrate_service(
            conn, definition.schema, definition.migrations, definition.shared_migrations
        )
        await conn.execute(f"SET search_path TO {definition.schema}")
        new = await _store_message(conn, "#" + "c" * 32, now)
        assert await conn.fetchval("SELECT laboratory_comment FROM results") is False
        covers = dict(await conn.fetch("SELECT message_id, digest_covers_comments FROM messages"))
        assert covers == {old: False, new: True}
    finally:
        await conn.close()


async def _store_message(conn: asyncpg.Connection, control_id: str, at: datetime) -> uuid.UUID:
    message_id = uuid.uuid4()
    await conn.execute(
        """INSERT INTO messages (message_id, source, control_id, channel, outcome, subject_id,
                                 result_count, received_at, content_digest)
           VALUES ($1, 'LIS^HOSP', $2, 'mllp', 'accepted', 'S-1', 1, $3, $4)""",
        message_id, control_id, at, "d" * 32,
    )  # fmt: skip
    return message_id
