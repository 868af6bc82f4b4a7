"""Review 240: JSON/FHIR address values fixer 235 (address_pieces) had stopped scrubbing from
free text, through the real POST /v1/lab-results and /fhir/Observation on PostgreSQL.
A postcode alone, a street run into its number: searched for as places again."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.lab_fixtures import MRN
from tests.integration.test_lab_ingestion import Lab
from tests.integration.test_lab_phi_review108_fhir_json import post
from tests.integration.test_lab_review232 import COLLECTED, _json

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("key", "value"),
    [("zip", "CH-3600"), ("plz", "D-61348"), ("postcode", "1012AB"), ("street", "Bahnhofstr.12")],
)
async def test_json_patient_postcode_left_in_reference_range(
    lab: Lab, key: str, value: str
) -> None:
    _, _, kept = await _json(lab, {key: value}, reference_range=f"seit {value}")
    assert kept["results"][0]["reference_range"] == "seit [redacted]", kept


def _body(address: dict[str, Any], note: str, *, related: bool) -> dict[str, Any]:
    patient = {
        "resourceType": "Patient",
        "id": "p1",
        "identifier": [{"system": "urn:hosp", "value": MRN}],
    }
    contained: list[dict[str, Any]] = [patient]
    if related:  # the patient's relative's address
        contained.append(
            {
                "resourceType": "RelatedPerson",
                "id": "r1",
                "patient": {"reference": "#p1"},
                "address": [address],
            }
        )
    else:
        patient["address"] = [address]
    return {
        "resourceType": "Observation",
        "status": "final",
        "identifier": [{"system": "urn:lab", "value": "R240-1"}],
        "contained": contained,
        "subject": {"reference": "#p1"},
        "code": {"coding": [{"system": "http://loinc.org", "code": "1988-5"}], "text": "CRP"},
        "effectiveDateTime": COLLECTED,
        "valueQuantity": {"value": 20, "unit": "furlongs"},
        "component": [{"code": {"text": "note"}, "valueString": note}],
    }


@pytest.mark.parametrize(
    ("address", "note", "related"),
    [
        ({"line": ["Gartenweg 3"], "city": "Thun", "postalCode": "CH-3600"}, "seit CH-3600", False),
        (
            {"line": ["Keizersgracht 1"], "city": "Amsterdam", "postalCode": "1012AB"},
            "pc 1012AB",
            False,
        ),
        (
            {"line": ["Bahnhofstr.12"], "city": "Thun", "postalCode": "3600"},
            "bei Bahnhofstr.12",
            True,
        ),
    ],
)
async def test_fhir_address_piece_left_in_a_component(
    lab: Lab, address: dict[str, Any], note: str, related: bool
) -> None:
    status, answer = await post(lab, "/fhir/Observation", _body(address, note, related=related))
    assert status == 422, answer
    kept = json.loads(await lab.pool.fetchval("SELECT payload FROM rejections"))
    value = kept["component"][0]["valueString"]
    assert note.rsplit(maxsplit=1)[-1] not in value, kept
