"""A rejected FHIR transaction's copy keeps nothing of a patient not enrolled: neither their
Observations nor an entry referring to their left-out Patient entry by its ``fullUrl``
(review 111: their glucose kept its identifier, value and time)."""

from __future__ import annotations

import copy
from typing import Any

from services.lab_ingestion.adapters.fhir_bundle import parse_bundle
from services.lab_ingestion.adapters.fhir_redacted_copy import RedactedFhir
from services.lab_ingestion.adapters.fhir_transaction_copy import copy_without
from tests.unit.lab_ingestion.route_fakes import CRP, bundle

URL = "urn:uuid:11111111-0000-0000-0000-000000000009"
NOT_ENROLLED = "MRN-NOT-ENROLLED"


def _hash(number: str) -> str:
    return f"HASH{number}HASH"


def _observation(identifier: str, **changes: Any) -> dict[str, Any]:
    observation = copy.deepcopy(CRP)
    observation["identifier"] = [{"system": "urn:lis", "value": identifier}]
    observation.update(changes)
    return observation


def _kept(body: dict[str, Any]) -> str:
    parsed = parse_bundle(body, "LIS", "HOSP", _hash)
    absent = frozenset(
        i for i, m in enumerate(parsed.messages) if m.patient_identifier == NOT_ENROLLED
    )
    return copy_without(RedactedFhir(body, _hash).whole, parsed, _hash, absent)


def test_an_entry_referring_to_a_left_out_patient_entry_is_left_out_too() -> None:
    patient = {"resourceType": "Patient", "id": "p9",
               "identifier": [{"system": "urn:hosp", "value": NOT_ENROLLED}]}  # fmt: skip
    theirs = _observation("K-3", subject={"reference": URL})
    glucose = _observation(
        "GLU-9", subject={"reference": URL},
        code={"coding": [{"system": "http://loinc.org", "code": "2345-7"}]},
        valueQuantity={"value": 5.4, "unit": "mmol/L", "code": "mmol/L"},
    )  # fmt: skip
    ours = _observation("K-1")
    body = bundle("transaction", patient, theirs, glucose, ours)
    body["entry"][0]["fullUrl"] = URL
    kept = _kept(body)
    assert "GLU-9" not in kept and "5.4" not in kept and "K-3" not in kept, kept
    assert "K-1" in kept  # the enrolled patient's entry stays
