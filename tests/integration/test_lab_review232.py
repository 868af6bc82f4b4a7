"""Review 232 through the real POST /v1/lab-results and /fhir/Observation on PostgreSQL and
the broker: the address rules HL7 copies follow (``address_lines``, reviews 224 and 227)
hold for kept JSON and FHIR copies too. A postal code with its city (``3600 Thun``) is a
place, so a sender named after it (``LIS^3600 THUN``) keeps its name in the answer, the
rejection and the copy, and an identifier so named stays as sent; a number with a letter or
a unit (``12 B``, ``3 L``) of an address is never searched for alone, so a result id, an
identifier or a range reading so stays as sent. The street with its house number and
the city are still scrubbed from free text."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from shared.auth import Role, create_token
from tests.integration.lab_fixtures import MRN
from tests.integration.test_lab_ingestion import Lab
from tests.integration.test_lab_phi_review108_fhir_json import post

pytestmark = pytest.mark.integration

COLLECTED = "2026-11-20T08:00:00+01:00"


async def _json(
    lab: Lab,
    patient: dict[str, object],
    *,
    facility: str = "HOSP",
    result_id: str = "J1",
    reference_range: str = "0-5",
) -> tuple[int, str, dict[str, Any]]:
    """POST a CRP result as ``LIS^facility`` (a token bound to it): the answer's status and
    text, and the rejection's kept copy (its row's ``source`` under ``_row_source``)."""
    sender = f"LIS^{facility}"
    async with lab.pool.acquire() as conn:
        token = await create_token(conn, "lab-json-r232", Role.LAB, [sender])
    result = {
        "result_id": result_id,
        "loinc": "1988-5",
        "value": "12",
        "unit": "mg/L",
        "status": "final",
        "collected_at": COLLECTED,
        "reference_range": reference_range,
    }
    body = {"message_id": "J-232", "source": {"application": "LIS", "facility": facility},
            "patient": {"identifier": MRN, "ssn": "756.1234.5678.97", **patient},
            "results": [result]}  # fmt: skip
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{lab.http}/v1/lab-results", headers=headers, json=body) as answer,
    ):
        status, said = answer.status, await answer.text()
    row = await lab.pool.fetchrow("SELECT payload, source FROM rejections")
    assert row is not None, (status, said)
    kept: dict[str, Any] = json.loads(row["payload"])
    kept["_row_source"] = row["source"]
    return status, said, kept


@pytest.mark.parametrize(
    ("key", "value", "facility"),
    [("address", "3600 Thun", "3600 THUN"), ("city", "3600 Thun", "3600 THUN"),
     ("address", "2400 Mol", "2400 MOL")],
)  # fmt: skip
async def test_json_postcode_with_its_city_leaves_the_sender_named_after_it(
    lab: Lab, key: str, value: str, facility: str
) -> None:
    """The whole ``3600 Thun`` was searched for everywhere: the 403 read ``sender
    'LIS^[redacted]' is not on the allow-list``, and the rejection and its copy named
    ``LIS^[redacted]`` (a JSON copy is never replayed: the laboratory resends)."""
    status, said, kept = await _json(
        lab, {key: value}, facility=facility, reference_range=f"aus {value}"
    )
    assert status == 403, said
    assert "[redacted]" not in said and f"LIS^{facility}" in said, said
    assert kept["source"] == {"application": "LIS", "facility": facility}, kept
    assert kept["_row_source"] == f"LIS^{facility}", kept
    assert kept["results"][0]["reference_range"] == "aus [redacted]", kept  # a place still


@pytest.mark.parametrize(
    ("patient", "result"),
    [({"address_line_2": "12 B", "address": "Gartenweg 3, 3600 Thun"}, {"result_id": "12 B"}),
     ({"address2": "3 L"}, {"reference_range": "3 L"})],
)  # fmt: skip
async def test_json_designation_leaves_a_result_id_or_range_as_sent(
    lab: Lab, patient: dict[str, object], result: dict[str, str]
) -> None:
    """``12 B`` and ``3 L`` of an address were searched for whole, and a result id ``12 B``
    or a range ``3 L`` kept as ``[redacted]``."""
    _, _, kept = await _json(lab, patient, facility="HOSP", **result)
    ((field, sent),) = result.items()
    assert kept["results"][0][field] == sent, kept


async def test_json_address_still_leaves_neither_street_nor_city_in_free_text(lab: Lab) -> None:
    _, _, kept = await _json(
        lab, {"address": "Gartenweg 3, 3600 Thun", "address_line_2": "12 B"},
        reference_range="wohnt in Thun, Gartenweg 3 (3600 Thun)",
    )  # fmt: skip
    rng = kept["results"][0]["reference_range"]
    assert "Thun" not in rng and "Gartenweg" not in rng and "3600" not in rng, kept


def _observation(
    line: list[str],
    *,
    ident: str = "R232-1",
    rng: str = "0-5",
    note: str = "ok",
    city: str = "Thun",
) -> dict[str, Any]:
    patient = {"resourceType": "Patient", "id": "p1",
               "identifier": [{"system": "urn:hosp", "value": MRN}],
               "address": [{"line": line, "city": city, "postalCode": "3600"}]}  # fmt: skip
    return {
        "resourceType": "Observation", "status": "final",
        "identifier": [{"system": "urn:lab", "value": ident}],
        "contained": [patient], "subject": {"reference": "#p1"},
        "code": {"coding": [{"system": "http://loinc.org", "code": "1988-5"}], "text": "CRP"},
        "effectiveDateTime": COLLECTED, "valueQuantity": {"value": 20, "unit": "furlongs"},
        "referenceRange": [{"text": rng}],
        "component": [{"code": {"text": "note"}, "valueString": note}],
    }  # fmt: skip


async def _fhir_kept(lab: Lab, body: dict[str, Any]) -> dict[str, Any]:
    status, answer = await post(lab, "/fhir/Observation", body)
    assert status == 422, answer
    kept: dict[str, Any] = json.loads(await lab.pool.fetchval("SELECT payload FROM rejections"))
    return kept


async def test_fhir_other_designation_leaves_the_observation_identifier(lab: Lab) -> None:
    """Address.line ``12 B`` was searched for whole: the identifier ``12 B`` was cut."""
    kept = await _fhir_kept(lab, _observation(["Gartenweg 3", "12 B"], ident="12 B"))
    assert kept["identifier"][0]["value"] == "12 B", kept


@pytest.mark.parametrize("city", ["3600 Thun", "3600 Thun, Schweiz"])
async def test_fhir_postcode_with_its_city_leaves_an_identifier_named_after_it(
    lab: Lab, city: str
) -> None:
    """Address.city ``3600 Thun`` was searched for whole: an identifier ``3600 THUN`` (a
    laboratory's, named after its postcode and city) was cut; a note's city is scrubbed."""
    body = _observation(["Gartenweg 3"], city=city, ident="3600 THUN", note="aus 3600 Thun")
    kept = await _fhir_kept(lab, body)
    assert kept["identifier"][0]["value"] == "3600 THUN", kept
    assert kept["component"][0]["valueString"] == "aus [redacted]", kept


async def test_fhir_unit_like_line_leaves_the_reference_range(lab: Lab) -> None:
    """Address.line ``3 L`` was searched for whole: the range ``3 L`` was cut."""
    kept = await _fhir_kept(lab, _observation(["Gartenweg 3", "3 L"], rng="3 L"))
    assert kept["referenceRange"][0]["text"] == "3 L", kept


async def test_fhir_address_still_leaves_neither_street_nor_city_in_a_note(lab: Lab) -> None:
    """(A four-digit postal code alone, ``3600``, is kept: a known limit.)"""
    kept = await _fhir_kept(
        lab, _observation(["Gartenweg 3", "12 B"], note="wohnt in Thun, Gartenweg 3")
    )
    note = kept["component"][0]["valueString"]
    assert "Thun" not in note and "Gartenweg" not in note, kept
