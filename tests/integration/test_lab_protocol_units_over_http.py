"""PROTOCOL section 6's conversion table through the HTTP channels, stored and published.

The integration tests sent only a few units over FHIR and JSON; the table ran over MLLP
alone (``test_lab_ingestion.CONVERSIONS``). Here every analyte in every unit the protocol
lists (CRP mg/L, mg/dL, nmol/L, standard and hs; neutrophils and platelets 10*9/L, 10*3/uL,
/uL, under both codes; haemoglobin g/dL, g/L, mmol/L; ALT and AST U/L, ukat/L; bilirubin
and creatinine, 2160-0 and 14682-9, mg/dL, umol/L) goes through ``POST /fhir/Observation``
and ``POST /v1/lab-results``, and both the canonical value stored and the value in the
published lab.results.v1 event are checked. One service start per channel: the table is
sent to one running service.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from shared.contracts.topics import LAB_RESULTS
from tests.integration.lab_fixtures import MRN
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration

# (LOINC, value as sent, unit, analyte, canonical value, canonical unit): PROTOCOL section 6
TABLE = [
    ("1988-5", "12.5", "mg/L", "crp", 12.5, "mg/L"),
    ("1988-5", "1.25", "mg/dL", "crp", 12.5, "mg/L"),  # x 10
    ("1988-5", "95.24", "nmol/L", "crp", 10.0, "mg/L"),  # / 9.524
    ("30522-7", "0.8", "mg/L", "crp", 0.8, "mg/L"),  # hs-CRP
    ("30522-7", "0.08", "mg/dL", "crp", 0.8, "mg/L"),
    ("30522-7", "47.62", "nmol/L", "crp", 5.0, "mg/L"),
    ("751-8", "2.1", "10*9/L", "neutrophils", 2.1, "10*9/L"),
    ("751-8", "2.1", "10*3/uL", "neutrophils", 2.1, "10*9/L"),  # = x10^9/L
    ("751-8", "2100", "/uL", "neutrophils", 2.1, "10*9/L"),  # / 1000
    ("26499-4", "0.4", "10*9/L", "neutrophils", 0.4, "10*9/L"),
    ("26499-4", "0.4", "10*3/uL", "neutrophils", 0.4, "10*9/L"),
    ("26499-4", "400", "/uL", "neutrophils", 0.4, "10*9/L"),
    ("777-3", "150", "10*9/L", "platelets", 150.0, "10*9/L"),
    ("777-3", "150", "10*3/uL", "platelets", 150.0, "10*9/L"),
    ("777-3", "150000", "/uL", "platelets", 150.0, "10*9/L"),
    ("26515-7", "45", "10*9/L", "platelets", 45.0, "10*9/L"),
    ("26515-7", "45", "10*3/uL", "platelets", 45.0, "10*9/L"),
    ("26515-7", "45000", "/uL", "platelets", 45.0, "10*9/L"),
    ("718-7", "12.5", "g/dL", "haemoglobin", 12.5, "g/dL"),
    ("718-7", "125", "g/L", "haemoglobin", 12.5, "g/dL"),  # / 10
    ("718-7", "7.76", "mmol/L", "haemoglobin", 12.50136, "g/dL"),  # x 1.611
    ("1742-6", "30", "U/L", "alt", 30.0, "U/L"),
    ("1742-6", "0.5", "ukat/L", "alt", 30.0, "U/L"),  # x 60
    ("1920-8", "41", "U/L", "ast", 41.0, "U/L"),
    ("1920-8", "0.9", "ukat/L", "ast", 54.0, "U/L"),
    ("1975-2", "1.2", "mg/dL", "bilirubin", 1.2, "mg/dL"),
    ("1975-2", "17.1", "umol/L", "bilirubin", 1.0, "mg/dL"),  # / 17.1
    ("2160-0", "1.1", "mg/dL", "creatinine", 1.1, "mg/dL"),
    ("2160-0", "88.4", "umol/L", "creatinine", 1.0, "mg/dL"),  # / 88.4
    ("14682-9", "0.9", "mg/dL", "creatinine", 0.9, "mg/dL"),
    ("14682-9", "176.8", "umol/L", "creatinine", 2.0, "mg/dL"),
]
FIRST = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def _collected(row: int) -> datetime:
    """Each row its own sample (a minute apart): the same value again would be a resend."""
    return FIRST + timedelta(minutes=row)


async def _checked(lab: Lab, channel: str) -> None:
    """Every row stored and published once, in its analyte's canonical unit and value."""
    stored = {
        r["collected_at"]: r
        for r in await lab.pool.fetch(
            "SELECT analyte, loinc, value, unit, original_value, collected_at FROM results"
        )
    }
    assert len(stored) == len(TABLE), sorted(stored)
    events = [e.payload for e in await lab.events(LAB_RESULTS, len(TABLE))]
    published = {datetime.fromisoformat(p["collected_at"]): p for p in events}
    assert len(events) == len(published) == len(TABLE), events
    for i, (loinc, value, unit, analyte, canonical, canonical_unit) in enumerate(TABLE):
        row, event = stored[_collected(i)], published[_collected(i)]
        sent = f"{loinc} {value} {unit} over {channel}"
        assert (row["analyte"], row["loinc"], row["unit"]) == (analyte, loinc, canonical_unit)
        assert row["value"] == pytest.approx(canonical, rel=1e-12), sent
        assert float(row["original_value"]) == float(value), sent
        assert (event["analyte"], event["loinc"], event["unit"]) == (
            analyte,
            loinc,
            canonical_unit,
        ), sent
        assert event["value"] == row["value"], sent  # published as stored
        assert event["channel"] == channel


async def _posted_as_a_lab_does(
    http: aiohttp.ClientSession, url: str, body: Mapping[str, object]
) -> tuple[int, str]:
    """POST ``body``, sending it again (at most twice) when answered 503 "nothing was stored,
    resend later", as a laboratory does: on a loaded machine the group commit's deadline can
    pass (seen once with five suites side by side), which is that answer, not a unit's."""
    for _ in range(3):
        async with http.post(url, json=body) as answer:
            status, text = answer.status, await answer.text()
        if status != 503:
            break
    return status, text


async def test_the_protocol_table_over_fhir_observation(lab: Lab) -> None:
    headers = {"Authorization": f"Bearer {lab.lab_token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        for i, (loinc, value, unit, *_) in enumerate(TABLE):
            observation = {
                "resourceType": "Observation",
                "identifier": [{"system": "urn:lab", "value": f"OBS-P6-{i}"}],
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
                "subject": {"identifier": {"system": "urn:hosp", "value": MRN}},
                "effectiveDateTime": _collected(i).isoformat(),
                "valueQuantity": {
                    "value": json.loads(value),  # 2100 an integer, as a count is
                    "unit": unit,
                    "system": "http://unitsofmeasure.org",
                    "code": unit,
                },
            }
            created = await _posted_as_a_lab_does(http, f"{lab.http}/fhir/Observation", observation)
            assert created[0] == 201, (loinc, value, unit, created[1])
    await _checked(lab, "fhir")


async def test_the_protocol_table_over_json_lab_results(lab: Lab) -> None:
    body = {
        "message_id": "J-P6-1",
        "source": {"application": "LIS", "facility": "HOSP"},
        "patient": {"identifier": MRN},
        "results": [
            {
                "result_id": f"R-P6-{i}",
                "loinc": loinc,
                "value": value,
                "unit": unit,
                "status": "final",
                "collected_at": _collected(i).isoformat(),
            }
            for i, (loinc, value, unit, *_) in enumerate(TABLE)
        ],
    }
    headers = {"Authorization": f"Bearer {lab.lab_token}"}
    async with (
        aiohttp.ClientSession(headers=headers) as http,
        http.post(f"{lab.http}/v1/lab-results", json=body) as accepted,
    ):
        assert accepted.status == 202, await accepted.text()
    await _checked(lab, "json")
