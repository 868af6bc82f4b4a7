"""Through the running service: a rejection's reason, stored and published on
lab.rejected.v1, quotes neither a patient's birth date written in a time field nor a FHIR
element's misplaced ``resourceType`` (a name), and the kept copies hold neither."""

from __future__ import annotations

import json

import aiohttp
import pytest

from shared.contracts.topics import LAB_REJECTED
from tests.integration.lab_fixtures import BIRTH, msa, obx, oru
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration

BIRTH_ISO = f"{BIRTH[:4]}-{BIRTH[4:6]}-{BIRTH[6:]}"  # 1958-02-14, PID-7 of lab_fixtures.oru
NAME = "ZZQXNAME"


async def test_no_birth_date_or_name_reaches_a_rejection_reason_or_event(lab: Lab) -> None:
    client = await lab.mllp()
    # OBX-14 holds the patient's birth date (PID-7) with a time: a field mapped wrongly
    message = oru("PHI50-1", [obx("1988-5", "12", "mg/L", observed=f"{BIRTH}0000+0000")])
    assert msa(await client.exchange(message))[1] == "AE"
    await client.close()
    fhir = {
        "resourceType": "Observation", "status": "final",
        "identifier": [{"system": "urn:lab", "value": "R-PHI50"}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "1988-5"}],
                 "resourceType": f"{NAME}, JANE"},
        "subject": {"identifier": {"system": "urn:hosp", "value": "MRN4711"}},
        "effectiveDateTime": "2026-11-20T08:00:00+01:00",
        "valueQuantity": {"value": 20, "unit": "mg/L"},
    }  # fmt: skip
    auth = {"Authorization": f"Bearer {lab.lab_token}"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{lab.http}/fhir/Observation", json=fhir, headers=auth) as answer,
    ):
        assert answer.status == 400, await answer.text()
    rows = await lab.pool.fetch("SELECT channel, reason, payload FROM rejections")
    assert len(rows) == 2
    copies = " ".join(r["payload"] for r in rows)
    assert NAME not in copies and BIRTH not in copies
    stored = {r["channel"]: r["reason"] for r in rows}
    events = {
        e.payload["channel"]: json.dumps(e.payload) for e in await lab.events(LAB_REJECTED, 2)
    }
    leaks = {
        "mllp (birth date via OBX-14)": BIRTH_ISO in stored["mllp"] + events["mllp"],
        "fhir (name via resourceType)": NAME in stored["fhir"] + events["fhir"],
    }
    assert not any(leaks.values()), (leaks, events)
