"""Review 192 through the real MLLP socket, POST /fhir/Observation and POST /v1/lab-results,
database and broker: the patient's address and places in kept copies of rejected messages,
a linked record's reference written as an identifier, a JSON collection time on the birth
date."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from services.lab_ingestion.adapters.sources import add_source
from shared.auth import Role, create_token
from shared.contracts.topics import LAB_REJECTED
from tests.integration.lab_fixtures import crp_observation
from tests.integration.test_lab_ingestion import Lab
from tests.integration.test_lab_real_message_shapes import exchange, j
from tests.integration.test_lab_replay import cli, rejection_of
from tests.integration.test_lab_review185 import TS, kept

pytestmark = pytest.mark.integration


def living_in(cid: str) -> str:
    """A CRP from LIS|BERN (not listed) for a patient living in Bern, Bad Homburger Weg 5,
    born in Bad Homburg, the places written in notes, code texts, OBR-20 and OBX-17."""
    address = "Bad Homburger Weg 5^^Bern^^3000^CH"
    pid = "|".join(["PID", "1", "", "MRN4711^^^HOSP^MR", "", "DOE^JOHN", "", "19580214", "M",
                    "", "", address]) + "|" * 12 + "Bad Homburg"  # fmt: skip
    return j(
        f"MSH|^~\\&|LIS|BERN|LENA|TRIAL|20261120090000+0100||ORU^R01|{cid}|P|2.5.1",
        pid,
        f"OBR|1|PLC{cid}|F{cid}|CRP^CRP Bern^L|||{TS}" + "|" * 13 + "Bern filler",
        f"OBX|1|NM|1988-5^CRP Bad Homburg^LN||42|mg/L|0-5|H|||F|||{TS}|||M1^Bern method^L",
        "NTE|1||Bad sample from Bern; born in Bad Homburg; Homburger Weg",
    )


async def test_a_patients_city_naming_the_sender_leaves_the_sender_whole_and_replays(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    """The city Bern made LIS|BERN LIS^[redacted], the rejection's source no listed sender,
    whose replay failed; "Bad" of Bad Homburg was cut from the note, and the places in code
    texts, OBR-20 and OBX-17 kept. Now the source is LIS^BERN, the places are scrubbed in
    the free text (the code texts' only), and the replay stores the same CRP."""
    (ack,) = await exchange(lab, living_in("HOME-1"))
    assert ack[1] in ("AE", "AR"), ack
    row = await lab.pool.fetchrow("SELECT source, reason_code, payload FROM rejections")
    assert row["source"] == "LIS^BERN" and row["reason_code"] == "unknown-source", dict(row)
    lines = {line[:3]: line.split("|") for line in row["payload"].split("\r")}
    assert lines["MSH"][2:4] == ["LIS", "BERN"]
    assert lines["OBR"][4] == "CRP^CRP [redacted]^L" and lines["OBR"][20] == "[redacted] filler"
    assert lines["OBX"][3] == "1988-5^CRP [redacted]^LN"
    assert lines["OBX"][17] == "M1^[redacted] method^L"
    assert lines["NTE"][3] == "Bad sample from [redacted]; born in [redacted]; [redacted] Weg"
    assert lines["PID"][11] == "" and lines["PID"][23] == ""
    for event in await lab.events(LAB_REJECTED, 1):
        assert "[redacted]" not in str(event.payload["source"]), event.payload
    async with lab.pool.acquire() as conn:
        await add_source(conn, "LIS", "BERN")
    await asyncio.sleep(2.5)  # the senders are read again
    assert await cli(lab, "replay", await rejection_of(lab, "HOME-1")) == 0, capsys.readouterr()
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 1


async def test_a_linked_reference_written_as_an_identifier_is_hashed(lab: Lab) -> None:
    patient = {"resourceType": "Patient", "id": "p1",
               "identifier": [{"system": "urn:hosp", "value": "MRN4711"}],
               "link": [{"type": "seealso",
                         "other": {"reference": "urn:hosp|MRN6666"}}]}  # fmt: skip
    body = crp_observation("LINK-3", unit="furlongs") | {
        "contained": [patient], "subject": {"reference": "#p1"},
    }  # fmt: skip
    status, _ = await lab.post_fhir("/fhir/Observation", body)
    assert status in (400, 422)
    (rejection,) = await kept(lab)
    assert "MRN6666" not in rejection["payload"], rejection["payload"]
    (linked,) = json.loads(rejection["payload"])["contained"][0]["link"]
    assert linked["other"]["reference"].startswith("urn:hosp|"), linked
    for event in await lab.events(LAB_REJECTED, 1):
        assert "MRN6666" not in json.dumps(event.payload)


async def test_a_json_copy_keeps_its_source_and_scrubs_the_birth_date_in_its_times(
    lab: Lab,
) -> None:
    """A body from LIS^BERN to a token bound to LIS^HOSP, for a patient living in Bern born
    on 17.03.1951, collected that day: the source was kept as LIS^[redacted], the
    collection time as written."""
    async with lab.pool.acquire() as conn:
        bound = await create_token(conn, "bound-lab", Role.LAB, ["LIS^HOSP"])
    result = {"result_id": "J1", "loinc": "1988-5", "value": "12", "unit": "mg/L",
              "status": "final", "collected_at": "1951-03-17T08:00:00+01:00"}  # fmt: skip
    body = {"message_id": "J-BERN-1", "source": {"application": "LIS", "facility": "BERN"},
            "patient": {"identifier": "MRN4711", "city": "Bern", "birth_date": "17.03.1951"},
            "results": [result]}  # fmt: skip
    auth = {"Authorization": f"Bearer {bound}"}
    async with aiohttp.ClientSession() as http, http.post(
        f"{lab.http}/v1/lab-results", headers=auth, json=body
    ) as answer:  # fmt: skip
        assert answer.status in (400, 403), await answer.text()
    row = await lab.pool.fetchrow("SELECT source, payload FROM rejections")
    assert row["source"] == "LIS^BERN", dict(row)
    copy = json.loads(row["payload"])
    assert copy["message_id"] == "J-BERN-1"
    assert copy["source"] == {"application": "LIS", "facility": "BERN"}
    assert copy["results"][0]["collected_at"] == "[redacted]T08:00:00+01:00", copy
    assert "1951" not in row["payload"] and "Bern" not in row["payload"]
