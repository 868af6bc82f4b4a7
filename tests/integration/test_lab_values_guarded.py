"""Values that would have been guessed are refused at every channel of the running service,
and nothing of them is stored (review 35: two analytes' codes, a coded answer or a range as
a number, an off-scale limit, more digits than the published number keeps)."""

from __future__ import annotations

import aiohttp
import pytest

from tests.integration.lab_fixtures import MRN, TS, crp_observation, msa, oru
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration

V3 = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"


async def test_guessed_values_are_refused_on_every_channel(lab: Lab) -> None:
    client = await lab.mllp()
    acks = [
        await client.exchange(oru(f"G-{index}", [fields], order=f"G{index}"))
        for index, fields in enumerate([
            f"NM|751-8^Neutrophils^LN^777-3^Platelets^LN||40|10*9/L|||||F|||{TS}",
            f"CWE|1988-5^CRP^LN||10^Above 10 mg/L^99LAB|mg/L|||||F|||{TS}",
            f"ST|1988-5^CRP^LN||5^-^10|mg/L|||||F|||{TS}",
            # a limit on both ends of the scale (one flagged off-scale is a limit: accepted)
            f"NM|751-8^Neutrophils^LN||0.5|10*9/L||<~>|||F|||{TS}",
        ])
    ]  # fmt: skip
    await client.close()
    off_scale = crp_observation("OFF-1")
    off_scale["interpretation"] = [{"coding": [{"system": V3, "code": ">"}]}]
    # below 20 by its comparator, above the scale by its flag: no one limit
    off_scale["valueQuantity"] = {**off_scale["valueQuantity"], "comparator": "<"}
    digits = {
        "message_id": "J-9", "source": {"application": "LIS", "facility": "HOSP"},
        "patient": {"identifier": MRN},
        "results": [{"result_id": "R9", "loinc": "1988-5", "value": "9.99999999999999999999",
                     "unit": "mg/L", "status": "final",
                     "collected_at": "2026-11-20T08:00:00+01:00"}],
    }  # fmt: skip
    headers = {"Authorization": f"Bearer {lab.lab_token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.post(f"{lab.http}/fhir/Observation", json=off_scale) as fhir:
            fhir_status = fhir.status
        async with http.post(f"{lab.http}/v1/lab-results", json=digits) as json_:
            json_status = json_.status
    assert [msa(ack)[1] for ack in acks] == ["AE"] * 4
    assert (fhir_status, json_status) == (422, 422)
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 0
    codes = await lab.pool.fetch("SELECT reason_code FROM rejections ORDER BY received_at")
    assert sorted(r["reason_code"] for r in codes) == sorted([
        "ambiguous-analyte", "non-numeric-value", "non-numeric-value", "censored-value",
        "censored-value", "non-numeric-value",
    ])  # fmt: skip
