"""A patient's number run into an accepted or rejected message's ids, through the running
service: a hospital number written in groups (987.654.321) is masked as its digits in every
channel's ids, in kept copies and in what lab.rejected.v1 publishes."""

from __future__ import annotations

import aiohttp
import pytest

from shared.contracts.identity import hospital_id_hmac
from shared.contracts.topics import LAB_REJECTED
from shared.secrets import subject_hmac_key
from tests.integration.lab_fixtures import msa, obx, oru
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration


async def stored_ids(lab: Lab) -> list[str]:
    messages = await lab.pool.fetch("SELECT control_id FROM messages ORDER BY received_at")
    results = await lab.pool.fetch("SELECT result_key FROM results ORDER BY recorded_at")
    return [r["control_id"] for r in messages] + [r["result_key"] for r in results]


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
