"""Review 115 through the running service (MLLP, FHIR and JSON over HTTP, real PostgreSQL
and broker): a unit label the result's own range or flag contradicts (an ANC of 450 /uL
labelled 10^9/L beside 1800-7700, flagged LL) is refused with its reason and kept, never
published off by a factor; the same results in their true unit are published. Units with
superscript powers, and values whose decimals end in zeros, are read."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from shared.contracts.envelope import Envelope
from shared.contracts.topics import LAB_RESULTS
from tests.integration.lab_fixtures import MRN, TS, msa, oru
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration

UCUM = "http://unitsofmeasure.org"
V3 = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
# (OBX-3, OBX-5, OBX-6, OBX-7, OBX-8): the review's slips, each refused
SLIPS = [
    ("751-8^ANC^LN", "450", "10*9/L", "1800-7700", "LL"),
    ("777-3^PLT^LN", "4500", "10*9/L", "150000-400000", "LL"),
    ("2160-0^CREA^LN", "45", "mg/dL", "62-106", "L"),
    ("2160-0^CREA^LN", "9.5", "umol/L", "0.7-1.2", "HH"),
    ("751-8^ANC^LN", "450", "10*9/L", "", "LL"),  # no range: the flag tells it
]
# the same results in their true unit (and units written as laboratories do): published
READ = [
    ("751-8^ANC^LN", "450", "/uL", "1800-7700", "LL", ("neutrophils", 0.45)),
    ("777-3^PLT^LN", "4.5", "10*9/L", "150-400", "LL", ("platelets", 4.5)),
    ("2160-0^CREA^LN", "45", "umol/L", "62-106", "L", ("creatinine", 0.509)),
    ("751-8^ANC^LN", "1.2", "10\u2079/L", "1.8-7.7", "L", ("neutrophils", 1.2)),
    ("777-3^PLT^LN", "250", "x10\u00b3/mm\u00b3", "150-400", "N", ("platelets", 250.0)),
    ("1988-5^CRP^LN", "12.500000000000000000", "mg/L", "0-5", "H", ("crp", 12.5)),
]


def _obx(case: tuple[str, str, str, str, str]) -> str:
    obx3, value, unit, range_, flag = case
    return f"NM|{obx3}||{value}|{unit}|{range_}|{flag}|||F|||{TS}"


async def _published(lab: Lab, at_least: int) -> list[dict[str, Any]]:
    raw = await lab.read(LAB_RESULTS, at_least)
    return [Envelope.from_bytes(value).payload for value in raw]


async def test_slips_over_mllp_are_refused_and_kept_and_their_true_units_read(lab: Lab) -> None:
    client = await lab.mllp()
    slips = [
        await client.exchange(oru(f"SLIP-{i}", [_obx(case)], order=f"S{i}"))
        for i, case in enumerate(SLIPS)
    ]
    read = [
        await client.exchange(oru(f"TRUE-{i}", [_obx(case[:5])], order=f"T{i}"))
        for i, case in enumerate(READ)
    ]
    await client.close()
    assert [msa(ack)[1] for ack in slips] == ["AE"] * len(SLIPS), slips
    assert msa(slips[0])[3].startswith("neutrophils: the reference range 1800-7700 read in")
    assert [msa(ack)[1] for ack in read] == ["AA"] * len(READ), read
    kept = await lab.pool.fetch(
        "SELECT reason_code, reason, payload FROM rejections ORDER BY received_at"
    )
    assert [r["reason_code"] for r in kept] == ["implausible-value"] * len(SLIPS)
    assert all(r["reason"].endswith("check the unit") for r in kept), kept
    assert "lower limit of normal" in kept[-1]["reason"]  # no range: its flag told
    assert all(MRN not in r["payload"] for r in kept)
    published = await _published(lab, len(READ))
    assert sorted((p["analyte"], round(p["value"], 3)) for p in published) == sorted(
        case[5] for case in READ
    )
    stored = await lab.pool.fetch("SELECT analyte, value FROM results")
    assert len(stored) == len(READ)
    assert not [p for p in published if p["value"] in (450.0, 4500.0, 45.0)]


def _observation(identifier: str, quantity: str, extra: str) -> bytes:
    """A FHIR Observation written as text: its numbers as the laboratory wrote them."""
    head = {
        "resourceType": "Observation",
        "identifier": [{"system": "urn:lab", "value": identifier}],
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "751-8"}]},
        "subject": {"identifier": {"system": "urn:hosp", "value": MRN}},
        "effectiveDateTime": "2026-11-20T08:00:00+01:00",
    }
    return (json.dumps(head)[:-1] + f', "valueQuantity": {quantity}{extra}}}').encode()


def _quantity(value: str, code: str) -> str:
    return f'{{"value": {value}, "unit": "{code}", "system": "{UCUM}", "code": "{code}"}}'


def _range_and_flag(low: str, high: str, code: str, flag: str) -> str:
    return (
        f', "referenceRange": [{{"low": {_quantity(low, code)}, "high": {_quantity(high, code)}}}]'
        f', "interpretation": [{{"coding": [{{"system": "{V3}", "code": "{flag}"}}]}}]'
    )


async def test_slips_over_fhir_and_json_are_refused_and_their_true_units_read(lab: Lab) -> None:
    headers = {"Authorization": f"Bearer {lab.lab_token}"}
    fhir = {"Content-Type": "application/fhir+json"}
    slip = _observation(
        "OBS-SLIP", _quantity("450", "10*9/L"), _range_and_flag("1800", "7700", "10*9/L", "LL")
    )
    true = _observation(
        "OBS-TRUE", _quantity("450", "/uL"), _range_and_flag("1800", "7700", "/uL", "LL")
    )
    zeros = _observation("OBS-ZEROS", _quantity("1.200000000000000000", "10*9/L"), "")
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.post(f"{lab.http}/fhir/Observation", data=slip, headers=fhir) as answer:
            slip_status, outcome = answer.status, await answer.json(content_type=None)
        async with http.post(f"{lab.http}/fhir/Observation", data=true, headers=fhir) as answer:
            true_status = answer.status
        async with http.post(f"{lab.http}/fhir/Observation", data=zeros, headers=fhir) as answer:
            zeros_status = answer.status
        json_statuses = []
        for i, (value, unit) in enumerate([("45", "mg/dL"), ("45", "umol/L")]):
            result = {
                "result_id": f"R-CREA-{i}", "loinc": "2160-0", "value": value, "unit": unit,
                "reference_range": "62-106", "abnormal_flag": "L", "status": "final",
                "collected_at": "2026-11-20T08:00:00+01:00",
            }  # fmt: skip
            body = {
                "message_id": f"J-CREA-{i}", "source": {"application": "LIS", "facility": "HOSP"},
                "patient": {"identifier": MRN}, "results": [result],
            }  # fmt: skip
            async with http.post(f"{lab.http}/v1/lab-results", json=body) as answer:
                json_statuses.append((answer.status, await answer.text()))
    assert (slip_status, true_status, zeros_status) == (422, 201, 201)
    assert outcome["resourceType"] == "OperationOutcome"
    assert "check the unit" in json.dumps(outcome)
    assert json_statuses[0][0] == 422 and "check the unit" in json_statuses[0][1]
    assert json_statuses[1][0] == 202, json_statuses[1]
    kept = await lab.pool.fetch("SELECT reason_code FROM rejections")
    assert [r["reason_code"] for r in kept] == ["implausible-value"] * 2
    published = await _published(lab, 3)
    assert sorted((p["analyte"], round(p["value"], 3)) for p in published) == sorted(
        [("neutrophils", 0.45), ("neutrophils", 1.2), ("creatinine", 0.509)]
    )
