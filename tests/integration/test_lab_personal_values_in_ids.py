"""The patient's personal values run into an accepted message's ids, through the running
service: a name, birth date or visit number in MSH-10 or the filler order number is stored
masked in ``messages.control_id`` and ``results.result_key`` (README: names, MRNs, birth dates
are never stored), the same way each time, so that a resend is still answered as a duplicate
and a correction still finds its result; a hospital number written in groups (987.654.321)
is masked as its digits in every channel's ids, in kept copies and in what lab.rejected.v1
publishes."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from shared.contracts.identity import hospital_id_hmac
from shared.contracts.topics import LAB_REJECTED
from shared.secrets import subject_hmac_key
from tests.integration.lab_fixtures import BIRTH, MRN, MllpClient, msa, obx, oru
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration

VISIT = "VISIT998877"
PERSONAL = ("DOE", "JOHN", BIRTH, VISIT)  # PID-5 of ``oru``, its PID-7, PV1-19 below


def with_visit(message: str) -> str:
    return message.replace("OBR|", f"PV1|1|O|||||||||||||||||{VISIT}\rOBR|", 1)


async def exchange(client: MllpClient, message: str) -> list[str]:
    ack = msa(await client.exchange(message))
    await asyncio.sleep(0.1)  # each its own batch: what is stored is read from the database
    return ack


async def stored_ids(lab: Lab) -> list[str]:
    messages = await lab.pool.fetch("SELECT control_id FROM messages ORDER BY received_at")
    results = await lab.pool.fetch("SELECT result_key FROM results ORDER BY recorded_at")
    return [r["control_id"] for r in messages] + [r["result_key"] for r in results]


async def test_a_name_birth_date_or_visit_number_in_the_ids_is_stored_masked(lab: Lab) -> None:
    client = await lab.mllp()
    final = with_visit(oru(f"DOE-{BIRTH}", [obx("1988-5", "12", "mg/L")], order=f"{VISIT}-{MRN}"))
    corrected = with_visit(
        oru("C-2", [obx("1988-5", "14", "mg/L", status="C")], order=f"{VISIT}-{MRN}")
    )
    first = await exchange(client, final)
    again = await exchange(client, final)
    correction = await exchange(client, corrected)
    await client.close()
    assert first[1:3] == ["AA", f"DOE-{BIRTH}"]  # the ACK echoes MSH-10 as sent
    assert again[1] == "AA" and "duplicate" in again[3]  # found under its masked id
    assert correction[1] == "AA", correction  # found the result under its masked key
    stored = await stored_ids(lab)
    assert len(stored) == 4  # two messages, the final result and its correction
    assert stored[2] == stored[3] and stored[2].endswith("|1988-5|")
    leaked = [text for text in stored if any(v in text for v in (*PERSONAL, MRN))]
    assert not leaked, leaked
    statuses = await lab.pool.fetch("SELECT status FROM results ORDER BY recorded_at")
    assert [r["status"] for r in statuses] == ["F", "C"]


GROUPED = "987.654.321"  # PID-3 / patient.identifier as the hospital writes it
DIGITS = "987654321"  # the same number as its digits, run into ids


async def test_a_hospital_number_written_in_groups_is_masked_in_ids_as_its_digits(
    lab: Lab,
) -> None:
    """Accepted over MLLP; rejected over MLLP (its kept copy and control id) and JSON (its
    control id as parsed): the digits nowhere stored or published."""
    await lab.pool.execute(
        "INSERT INTO enrolled_subjects (subject_id, site_id, site_timezone, hospital_id_hmac,"
        " day1, enrolled_at) VALUES ('S-101', 'CH-01', 'Europe/Zurich', $1, '2026-11-02', now())",
        hospital_id_hmac(subject_hmac_key(lab.settings), GROUPED),
    )
    pid3 = f"{GROUPED}^^^HOSP^MR"
    client = await lab.mllp()
    accepted = oru(f"{DIGITS}-1", [obx("1988-5", "12", "mg/L")], pid3=pid3, order=DIGITS)
    assert msa(await client.exchange(accepted))[1] == "AA"
    rejected = oru(f"{DIGITS}-2", [obx("1988-5", "12", "furlongs")], pid3=pid3, order="ORD9")
    assert msa(await client.exchange(rejected))[1] == "AE"
    await client.close()
    body = {
        "message_id": f"{DIGITS}-3", "source": {"application": "LIS", "facility": "HOSP"},
        "patient": {"identifier": GROUPED},
        "results": [{"result_id": f"{DIGITS}-R1", "loinc": "1988-5", "value": "12",
                     "unit": "furlongs", "status": "final",
                     "collected_at": "2026-11-20T08:00:00+01:00"}],
    }  # fmt: skip
    auth = {"Authorization": f"Bearer {lab.lab_token}"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{lab.http}/v1/lab-results", json=body, headers=auth) as answer,
    ):
        assert answer.status == 422, await answer.text()
    stored = await stored_ids(lab)
    rows = await lab.pool.fetch("SELECT control_id, payload FROM rejections")
    events = await lab.events(LAB_REJECTED, 2)
    published = [e.payload["message_control_id"] for e in events]
    found = {
        "stored (messages, results)": [t for t in stored if DIGITS in t],
        "rejections.control_id": [r["control_id"] for r in rows if DIGITS in r["control_id"]],
        "rejections.payload": [r["payload"][:120] for r in rows if DIGITS in r["payload"]],
        "lab.rejected.v1 message_control_id": [p for p in published if p and DIGITS in p],
    }
    assert not any(found.values()), found
    assert len(stored) == 2 and len(rows) == 2 and len(published) == 2
