"""Review 36 through the running service: a rejected HL7 message is known by its kept copy's
MSH-10 (no name, birth date or visit number put back), and a hospital number run into a
JSON or FHIR id is masked in the kept copy as the accepted path masks it."""

from __future__ import annotations

import re

import aiohttp
import pytest

from shared.contracts.topics import LAB_REJECTED
from tests.integration.lab_fixtures import BIRTH, MRN, msa, obx, oru
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration

VISIT = "VISIT998877"


async def test_a_rejection_keeps_no_phi_in_its_control_id_nor_a_number_in_its_ids(
    lab: Lab,
) -> None:
    client = await lab.mllp()
    for control_id in (f"DOE-{BIRTH}", VISIT):  # AE: a unit the trial cannot convert
        message = oru(control_id, [obx("1988-5", "12", "furlongs")])
        message = message.replace("OBR|", f"PV1|1|O|||||||||||||||||{VISIT}\rOBR|", 1)
        assert msa(await client.exchange(message))[1] == "AE"
    await client.close()
    body = {
        "message_id": f"MSG{MRN}", "source": {"application": "LIS", "facility": "HOSP"},
        "patient": {"identifier": MRN},
        "results": [{"result_id": f"{MRN}001", "loinc": "1988-5", "value": "12",
                     "unit": "furlongs", "status": "final",
                     "collected_at": "2026-11-20T08:00:00+01:00"}],
    }  # fmt: skip
    fhir = {
        "resourceType": "Observation", "id": f"OBS{MRN}", "status": "final",
        "identifier": [{"system": "urn:lab", "value": f"{MRN}001"}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "1988-5"}]},
        "subject": {"identifier": {"system": "urn:hosp", "value": MRN}},
        "effectiveDateTime": "2026-11-20T08:00:00+01:00",
        "valueQuantity": {"value": 20, "unit": "furlongs"},
    }  # fmt: skip
    auth = {"Authorization": f"Bearer {lab.lab_token}"}
    async with aiohttp.ClientSession() as http:
        for path, sent in (("/v1/lab-results", body), ("/fhir/Observation", fhir)):
            async with http.post(f"{lab.http}{path}", json=sent, headers=auth) as answer:
                assert answer.status == 422, await answer.text()
    rows = await lab.pool.fetch("SELECT channel, control_id, payload FROM rejections")
    events = await lab.events(LAB_REJECTED, 4)
    assert [e.payload["message_control_id"] for e in events] == [None] * 4  # no sender's id
    kept = [r["control_id"] for r in rows]
    assert sorted(c for c in kept if "redacted" in c) == ["[redacted]-[redacted]"]
    # the visit number masked as PID-3's numbers are (review 185), no more scrubbed whole
    assert len([c for c in kept if re.fullmatch("#[0-9a-f]{12}", c)]) == 1, kept
    leaked = [text for text in kept + [r["payload"] for r in rows]
              if any(phi in text for phi in ("DOE", BIRTH, VISIT, MRN))]  # fmt: skip
    assert not leaked
