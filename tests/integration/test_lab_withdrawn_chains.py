"""A withdrawn result stays withdrawn (review 39, findings 2 and 3), on PostgreSQL: a late
copy of a withdrawn version (HL7, JSON) is rejected and kept, never stored and published
again; a cancellation sent again is a duplicate; a wrong-patient fix still stores the result
for the right patient; FHIR's version rules are unchanged; migration 0017's guard sends a
key that held a result to the careful path, on databases upgraded from before too."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import asyncpg
import pytest

from services.lab_ingestion.adapters.repository import LabRepository
from services.lab_ingestion.adapters.sources import add_source
from services.lab_ingestion.adapters.unit_of_work import LabIngestionUnitOfWork
from services.lab_ingestion.bootstrap import definition
from services.lab_ingestion.domain.model import (
    Coding,
    LabMessage,
    NormalisedResult,
    ObservationInput,
    StaleBatch,
)
from services.lab_ingestion.domain.records import (
    BatchAssumptions,
    MessageRecord,
    ResultRecord,
    WithdrawnVersion,
)
from services.lab_ingestion.service_layer.commands import IngestLabMessage
from services.lab_ingestion.service_layer.ingest import BatchIngestor
from shared.contracts.events.lab import Analyte, Channel
from shared.contracts.identity import hospital_id_hmac
from shared.contracts.topics import LAB_REJECTED, LAB_RESULTS
from shared.db.pool import ReservedConnections
from shared.secrets import subject_hmac_key
from tests.integration.lab_fixtures import MRN, STORED_ID, migrated_lab_pool, msa, obx, oru
from tests.integration.test_lab_fhir_versions import post_all, version
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 20, 8, 15, tzinfo=UTC)
CRP = (Coding("1988-5", "http://loinc.org"),)


async def exchange(lab: Lab, sent: list[tuple[str, str, str]], mrn: str = MRN) -> list[list[str]]:
    """Each (control id, value, status) as its own HL7 message and batch; their MSAs."""
    client = await lab.mllp()
    acks = []
    for control_id, value, status in sent:
        unit = "mg/L" if value else ""
        message = oru(control_id, [obx("1988-5", value, unit, status=status)], mrn=mrn)
        acks.append(msa(await client.exchange(message)))
        await asyncio.sleep(0.1)  # each its own batch: the chain is read from the database
    await client.close()
    return acks


async def standing(lab: Lab) -> list[tuple[str, float]]:
    rows = await lab.pool.fetch(
        "SELECT subject_id, value FROM results WHERE cancelled_at IS NULL"
        " AND status IN ('F', 'C') ORDER BY recorded_at"
    )
    return [(row["subject_id"], row["value"]) for row in rows]


async def test_a_late_hl7_copy_of_a_withdrawn_result_is_rejected_and_kept(lab: Lab) -> None:
    acks = await exchange(lab, [
        ("W-1", "40", "F"), ("W-2", "", "W"),
        ("W-3", "40", "F"),  # the original again: an interface engine's late copy
        ("W-4", "", "W"),  # the withdrawal again: a duplicate
        ("W-5", "41", "F"),  # another value: a new result
        ("W-4", "", "W"),  # that duplicate resent under its own MSH-10 (its ACK was lost)
    ])  # fmt: skip
    assert [a[1] for a in acks] == ["AA", "AA", "AE", "AA", "AA", "AA"], acks
    assert acks[2][3].startswith("this result was withdrawn: a new result needs an order")
    assert "duplicate" in acks[3][3] and "duplicate" in acks[5][3]
    assert await standing(lab) == [("S-100", 41.0)]  # not cancelled by the resent W-4
    rejections = await lab.pool.fetch("SELECT control_id, reason_code FROM rejections")
    assert [tuple(r) for r in rejections] == [("W-3", "ambiguous-version")]
    stored = await lab.pool.fetch(
        "SELECT control_id, result_count FROM messages ORDER BY received_at"
    )
    sent = [("W-1", 1), ("W-2", 0), ("W-4", 0), ("W-5", 1)]
    assert [tuple(r) for r in stored] == [(lab.stored_id(m), n) for m, n in sent]
    events = await lab.events(LAB_RESULTS, 3)
    assert [(e.event_type, e.payload.get("value")) for e in events] == [
        ("LabResultRecorded", 40.0), ("LabResultCancelled", None), ("LabResultRecorded", 41.0),
    ]  # fmt: skip
    rejected = (await lab.events(LAB_REJECTED, 1))[0].payload
    assert (rejected["reason_code"], rejected["message_control_id"]) == ("ambiguous-version", None)


async def test_a_result_withdrawn_for_the_wrong_patient_is_stored_for_the_right_one(
    lab: Lab,
) -> None:
    hmac = hospital_id_hmac(subject_hmac_key(lab.settings), "MRN0815")
    await lab.pool.execute(
        """INSERT INTO enrolled_subjects (subject_id, site_id, site_timezone, hospital_id_hmac,
                                          day1, enrolled_at)
           VALUES ('S-200', 'CH-01', 'Europe/Zurich', $1, '2026-11-02', now())""",
        hmac,
    )
    first = await exchange(lab, [("P-1", "40", "F"), ("P-2", "", "W")])
    moved = await exchange(lab, [("P-3", "40", "F")], mrn="MRN0815")
    again = await exchange(lab, [("P-4", "", "W")])  # the first patient's withdrawal again
    assert [a[1] for a in first + moved + again] == ["AA"] * 4
    assert "duplicate" in again[0][3]
    # a late copy of the first patient's result: told it was withdrawn, not to correct or
    # cancel the other patient's (which would undo the fix)
    (late,) = await exchange(lab, [("P-5", "40", "F")])
    assert late[1] == "AE" and late[3].startswith("this result was withdrawn"), late
    assert await standing(lab) == [("S-200", 40.0)]
    rejections = await lab.pool.fetch("SELECT control_id, reason_code FROM rejections")
    assert [tuple(r) for r in rejections] == [("P-5", "ambiguous-version")]


async def post_json(lab: Lab, message_id: str, status: str) -> int:
    result = {"result_id": "R1", "loinc": "1988-5", "status": status,
              "collected_at": "2026-11-20T08:00:00+01:00"}  # fmt: skip
    if status == "final":
        result |= {"value": "40", "unit": "mg/L"}
    body = {"message_id": message_id, "source": {"application": "LIS", "facility": "HOSP"},
            "patient": {"identifier": MRN}, "results": [result]}  # fmt: skip
    headers = {"Authorization": f"Bearer {lab.lab_token}"}
    async with (
        aiohttp.ClientSession(headers=headers) as http,
        http.post(f"{lab.http}/v1/lab-results", json=body) as response,
    ):
        return response.status


async def test_json_and_fhir_keep_their_answers_for_a_withdrawn_result(lab: Lab) -> None:
    """JSON: the late copy 422, the cancellation again 200. FHIR (unchanged): the stored
    version again 422 ambiguous-version, its cancellation again a duplicate, and a version
    with an ``issued`` time of its own posted again on purpose, a new result."""
    json_statuses = [
        await post_json(lab, message_id, status)
        for message_id, status in (("J-1", "final"), ("J-2", "entered-in-error"),
                                   ("J-3", "final"), ("J-4", "entered-in-error"))
    ]  # fmt: skip
    assert json_statuses == [202, 202, 422, 200]
    fhir: list[dict[str, Any]] = [
        version(20, "final", "09"), version(20, "entered-in-error", "10"),
        version(20, "final", "09"), version(20, "entered-in-error", "10"),
        version(20, "final", "11"),
    ]  # fmt: skip
    # a withdrawal creates nothing: 200, not 201 Created (review 66)
    assert await post_all(lab, fhir) == [201, 200, 422, 200, 201]
    codes = await lab.pool.fetch("SELECT reason_code FROM rejections ORDER BY received_at")
    assert [r["reason_code"] for r in codes] == ["ambiguous-version"] * 2
    assert sorted(value for _, value in await standing(lab)) == [20.0]


# --- the lookup and the fast path's guard (migration 0017) ---------------------------------


@pytest.fixture
async def pool(database: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await migrated_lab_pool(database, "test-lab-withdrawn-chains")
    yield pool
    await pool.close()


def stored(
    key: str, subject: str, status: str = "F", *, withdrawn: bool = False
) -> tuple[MessageRecord, ResultRecord]:
    """A message and its CRP 40 under ``key`` (``withdrawn``: cancelled already)."""
    message = MessageRecord(
        uuid.uuid4(), "LIS^HOSP", str(uuid.uuid4()), "mllp", "accepted", subject, 1, NOW
    )
    crp = NormalisedResult(Analyte.CRP, "1988-5", 40.0, "mg/L", "40", "mg/L", 0, 5, None)
    result = ResultRecord(
        uuid.uuid4(), message.message_id, subject, "LIS^HOSP", key, status, crp, NOW, None, None,
        NOW if withdrawn else None,
    )  # fmt: skip
    return message, result


async def write(conn: asyncpg.Connection, key: str, *, assumed_new: bool) -> None:
    """A batch of one new final result under ``key``, assumed new when so told."""
    message, result = stored(key, "S-1")
    keys = [("LIS^HOSP", key)] if assumed_new else []
    repository = LabRepository(conn, STORED_ID)
    repository.stage(
        [message], [result], [], [], NOW, assumptions=BatchAssumptions(new_result_keys=keys)
    )
    await repository.write([])


async def test_the_lookup_reads_each_patients_withdrawn_versions(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        repository = LabRepository(conn, STORED_ID)
        for key, subject, status in (("K", "S-1", "F"), ("K", "S-2", "P"), ("N2", "S-1", "F")):
            message, result = stored(key, subject, status, withdrawn=True)
            repository.stage([message], [result], [], [], NOW)
            await repository.write([])
        lookup = await repository.lookup([], [], [("LIS^HOSP", "K"), ("LIS^HOSP", "N")])
    (version,) = [v for v in lookup.withdrawn_versions[("LIS^HOSP", "K")] if v.content]
    assert version.content is not None
    assert (version.subject_id, version.analyte, version.content[1]) == ("S-1", "crp", 40.0)
    assert WithdrawnVersion("S-2", "crp", None) in lookup.withdrawn_versions[("LIS^HOSP", "K")]
    assert ("LIS^HOSP", "N") not in lookup.withdrawn_versions
    assert lookup.latest == {}


async def test_the_guard_refuses_a_key_whose_result_was_withdrawn_after_an_upgrade_too(
    pool: asyncpg.Pool,
) -> None:
    """0012's guard (a database before the upgrade) let a batch assume a key new when its
    result was withdrawn; 0017's refuses it, and still passed a key that never held a final
    result (none, or a withdrawn preliminary one alone); 0018's refuses a key that held any
    result (review 44: a cancellation on the careful path withdraws the patient's whole chain
    there, a final result another instance wrote after its read too)."""
    async with pool.acquire() as conn:
        repository = LabRepository(conn, STORED_ID)
        for key, status, withdrawn in (("WF", "F", True), ("WP", "P", True),
                                       ("WP2", "P", True), ("SP", "P", False)):  # fmt: skip
            message, result = stored(key, "S-1", status, withdrawn=withdrawn)
            repository.stage([message], [result], [], [], NOW)
            await repository.write([])
        await conn.execute((definition.migrations / "0012_withdrawn_subjects.sql").read_text())
        before_the_upgrade = conn.transaction()
        await before_the_upgrade.start()
        await write(conn, "WF", assumed_new=True)  # passed: the late copy was stored
        await before_the_upgrade.rollback()
        await conn.execute((definition.migrations / "0017_withdrawn_versions.sql").read_text())
        with pytest.raises(StaleBatch):
            await write(conn, "WF", assumed_new=True)
        await write(conn, "WP", assumed_new=True)
        await write(conn, "NEW", assumed_new=True)
        await conn.execute((definition.migrations / "0018_preliminary_keys_read.sql").read_text())
        for key in ("WF", "WP2", "SP"):  # SP: a standing preliminary result alone
            with pytest.raises(StaleBatch):
                await write(conn, key, assumed_new=True)
        await write(conn, "NEW2", assumed_new=True)
    held = await pool.fetch("SELECT result_key FROM results WHERE cancelled_at IS NULL")
    assert sorted(r["result_key"] for r in held) == sorted(
        STORED_ID(key) for key in ("NEW", "NEW2", "SP", "WP")
    )


@pytest.mark.parametrize("one_batch", [False, True])
async def test_a_late_copy_is_rejected_in_the_batch_of_its_withdrawal_as_after_it(
    pool: asyncpg.Pool, one_batch: bool
) -> None:
    """The real BatchIngestor: F 40, W, F 40, W, F 41 in one batch or five."""
    async with pool.acquire() as conn:
        await add_source(conn, "LIS", "HOSP")
        await conn.execute(
            """INSERT INTO enrolled_subjects (subject_id, site_id, site_timezone,
                                              hospital_id_hmac, day1, enrolled_at)
               VALUES ('S-1', 'CH-01', 'Europe/Zurich', 'h(MRN1)', '2026-11-02', now())"""
        )
    connections = ReservedConnections(pool, keep=1)
    ingest = BatchIngestor(
        lambda: LabIngestionUnitOfWork(connections, "lab-ingestion", STORED_ID),
        lambda mrn: f"h({mrn})",
    )

    def sent(control_id: str, status: str, value: str = "") -> IngestLabMessage:
        observation = ObservationInput(
            "K", CRP, value, ("mg/L",) if value else (), status=status, collected_at=NOW
        )
        lab = LabMessage(Channel.MLLP, "LIS", "HOSP", control_id, "MRN1", (observation,))
        return IngestLabMessage(lab, lambda: "", NOW)

    messages = [sent("1", "F", "40"), sent("2", "W"), sent("3", "F", "40"), sent("4", "W"),
                sent("5", "F", "41")]  # fmt: skip
    batches = [messages] if one_batch else [[m] for m in messages]
    try:
        outcomes = [o for batch in batches for o in await ingest(batch)]
    finally:
        await connections.close()
    assert [(o.accepted, o.duplicate, o.code and o.code.value) for o in outcomes] == [
        (True, False, None), (True, False, None), (False, False, "ambiguous-version"),
        (True, True, None), (True, False, None),
    ]  # fmt: skip
    rows = await pool.fetch("SELECT value, cancelled_at IS NULL AS stands FROM results")
    assert sorted((r["value"], r["stands"]) for r in rows) == [(40.0, False), (41.0, True)]


# Review 42: the same late copies once the patient has a new result under the key
async def test_a_late_copy_under_a_new_chain_is_not_told_to_send_a_correction(lab: Lab) -> None:
    acks = await exchange(lab, [
        ("N-1", "40", "F"), ("N-2", "", "W"),  # 40 posted as wrong
        ("N-3", "41", "F"),  # the lab's new result: a new chain
        ("N-4", "40", "F"),  # the interface engine's late copy of the withdrawn 40
    ])  # fmt: skip
    assert [a[1] for a in acks[:3]] == ["AA", "AA", "AA"], acks
    assert acks[3][1:3] == ["AE", "N-4"]
    # the withdrawn value's late copy must not be answered with an instruction that, if
    # followed (C 40), makes the withdrawn value stand again
    assert "correction" not in acks[3][3], acks[3]


async def test_cancel_and_repost_in_one_message_after_an_earlier_withdrawal(lab: Lab) -> None:
    acks = await exchange(lab, [("R-1", "40", "F"), ("R-2", "", "X")])
    assert [a[1] for a in acks] == ["AA", "AA"], acks
    client = await lab.mllp()
    # one message: cancel, then the final result again (README: "a final result after the
    # cancellation in the same message start[s] a new result")
    both = oru("R-3", [obx("1988-5", "", "", status="X"), obx("1988-5", "40", "mg/L", status="F")])
    ack = msa(await client.exchange(both))
    await client.close()
    await asyncio.sleep(0.1)
    assert ack[1] == "AA", ack
    assert await standing(lab) == [("S-100", 40.0)]


async def test_a_late_copy_of_a_withdrawn_correction_does_not_stand_again(lab: Lab) -> None:
    acks = await exchange(lab, [
        ("C-1", "40", "F"), ("C-2", "4", "C"), ("C-3", "", "W"),  # 40 and 4 withdrawn
        ("C-4", "41", "F"),  # the lab's new result: a new chain
        ("C-5", "4", "C"),  # the interface engine's late copy of the withdrawn C 4
    ])  # fmt: skip
    assert [a[1] for a in acks[:4]] == ["AA"] * 4, acks
    assert acks[4][1:3] == ["AE", "C-5"], acks[4]
    assert await standing(lab) == [("S-100", 41.0)]
