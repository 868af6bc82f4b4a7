"""Review 190 through POST /fhir/Observation and the real MLLP socket, database and broker:
a linked record's number in a kept FHIR copy, the birth place in the sender's name, and
results under a number an enrolment no longer names on the key of a stored result."""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from services.lab_ingestion.adapters.sources import add_source
from shared.contracts.topics import LAB_REJECTED
from tests.integration.lab_fixtures import crp_observation
from tests.integration.test_lab_ingestion import Lab
from tests.integration.test_lab_real_message_shapes import exchange, j
from tests.integration.test_lab_replay import cli, rejection_of
from tests.integration.test_lab_review185 import TS, kept

pytestmark = pytest.mark.integration


def linked(number: str, kind: str, other: str) -> dict[str, object]:
    return {"resourceType": "Patient", "id": "p1",
            "identifier": [{"system": "urn:hosp", "value": number,
                            "type": {"coding": [{"code": "MR"}]}}],
            "link": [{"type": kind, "other": {"identifier": {"system": "urn:hosp",
                                                             "value": other}}}]}  # fmt: skip


async def test_a_linked_records_number_is_hashed_in_the_kept_copy(lab: Lab) -> None:
    """A Patient replaced by MRN5555 (refused), and one with a seealso link to MRN6666 in
    an Observation kept for its unit: the copies kept both numbers in plain text. Now
    hashed as the Patient's own identifier is."""
    replaced = crp_observation("LINK-1") | {
        "contained": [linked("MRN9999", "replaced-by", "MRN5555")],
        "subject": {"reference": "#p1"},
    }
    status, _ = await lab.post_fhir("/fhir/Observation", replaced)
    assert status == 400
    see_also = crp_observation("LINK-2", unit="furlongs") | {
        "contained": [linked("MRN4711", "seealso", "MRN6666")],
        "subject": {"reference": "#p1"},
    }
    status, _ = await lab.post_fhir("/fhir/Observation", see_also)
    assert status in (400, 422)
    rejections = await kept(lab)
    assert len(rejections) == 2
    for rejection in rejections:
        payload = rejection["payload"]
        assert not {"MRN5555", "MRN6666", "MRN9999", "MRN4711"} & set(payload.split('"'))
        assert "MRN5555" not in payload and "MRN6666" not in payload, payload
        (patient,) = json.loads(payload)["contained"]
        hashed = patient["link"][0]["other"]["identifier"]["value"]
        assert re.fullmatch("[0-9a-f]{64}", hashed), hashed  # as the record's own number
    events = await lab.events(LAB_REJECTED, 2)
    assert all("MRN5555" not in json.dumps(e.payload) for e in events)
    assert all("MRN6666" not in json.dumps(e.payload) for e in events)


def born_in(cid: str, place: str) -> str:
    pid = "|".join(["PID", "1", "", "MRN4711^^^HOSP^MR", "", "DOE^JOHN", "", "19580214", "M"])
    return j(
        f"MSH|^~\\&|LIS|BERN|LENA|TRIAL|20261120090000+0100||ORU^R01|{cid}|P|2.5.1",
        pid + "|" * 15 + place,
        f"OBR|1|PLC{cid}|F{cid}|CRP^CRP panel^L|||{TS}",
        f"OBX|1|NM|1988-5^CRP^LN||42|mg/L|0-5|H|||F|||{TS}",
        f"NTE|1||Geburtsort {place}",
    )


async def test_a_birth_place_naming_the_senders_city_leaves_the_sender_whole(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    """LIS|BERN, not listed, sends a patient born in Bern: the rejection's source was
    ``LIS^[redacted]``, and once LIS BERN was listed the replay failed ("unknown-source:
    sender 'LIS^[redacted]'"). Now the source is LIS^BERN, the note's Bern scrubbed, and the
    replay stores the result."""
    (ack,) = await exchange(lab, born_in("BORN-1", "Bern"))
    assert ack[1] in ("AE", "AR"), ack
    row = await lab.pool.fetchrow("SELECT source, reason_code, payload FROM rejections")
    assert row["source"] == "LIS^BERN" and row["reason_code"] == "unknown-source", dict(row)
    assert "NTE|1||Geburtsort [redacted]" in row["payload"]
    assert "|LIS|BERN|" in row["payload"]
    async with lab.pool.acquire() as conn:
        await add_source(conn, "LIS", "BERN")
    await asyncio.sleep(2.5)  # the senders are read again
    assert await cli(lab, "replay", await rejection_of(lab, "BORN-1")) == 0, capsys.readouterr()
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 1
