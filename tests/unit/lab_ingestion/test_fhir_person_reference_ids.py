"""A person's logical id in a reference (``Patient/MRN4711``: a hospital number may be one)
is replaced in a kept FHIR copy by its keyed hash, as an identifier is, and so is every copy
of it: the resource's own id, a Bundle entry's fullUrl and request, a contained resource's
reference, so that a reference and what it names still match (review 132)."""

from __future__ import annotations

import hashlib
import json

import pytest

from services.lab_ingestion.adapters.fhir_redaction import redact_fhir

NUMBER = "MRN4711"
HASHED = hashlib.sha256(NUMBER.encode()).hexdigest()
UUID = "urn:uuid:6f1c0d52-1b53-4c1e-9d1a-2d6f0f4b7a10"


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@pytest.mark.parametrize(
    ("reference", "kept"),
    [
        (f"Patient/{NUMBER}", f"Patient/{HASHED}"),
        (f"https://h.example/fhir/Patient/{NUMBER}", f"https://h.example/fhir/Patient/{HASHED}"),
        (f"Patient/{NUMBER}/_history/2", f"Patient/{HASHED}/_history/2"),
        (f"RelatedPerson/{NUMBER}", f"RelatedPerson/{HASHED}"),
        ("Specimen/S1", "Specimen/S1"),  # no person's: kept
        ("#p1", "#p1"),
        (UUID, UUID),
    ],
)  # fmt: skip
def test_a_reference_keeps_a_persons_id_hashed(reference: str, kept: str) -> None:
    observation = {"resourceType": "Observation", "status": "final",
                   "subject": {"reference": reference}}  # fmt: skip
    assert redact_fhir(observation, _hash)["subject"]["reference"] == kept


def test_a_bundle_copy_keeps_its_references_matching() -> None:
    bundle = {
        "resourceType": "Bundle", "type": "batch",
        "entry": [
            {"fullUrl": f"https://h.example/fhir/Patient/{NUMBER}",
             "resource": {"resourceType": "Patient", "id": NUMBER},
             "request": {"method": "PUT", "url": f"Patient/{NUMBER}"}},
            {"resource": {"resourceType": "Observation", "status": "final",
                          "subject": {"reference": f"Patient/{NUMBER}"},
                          "specimen": {"reference": "#s1"},
                          "contained": [{"resourceType": "Specimen", "id": "s1",
                                         "subject": {"reference": f"Patient/{NUMBER}"}}]},
             "request": {"method": "POST", "url": "Observation"}},
        ],
    }  # fmt: skip
    kept = redact_fhir(bundle, _hash)
    assert NUMBER not in json.dumps(kept)
    patient, observation = kept["entry"]
    assert patient["resource"]["id"] == HASHED
    assert patient["fullUrl"] == f"https://h.example/fhir/Patient/{HASHED}"
    assert patient["request"]["url"] == f"Patient/{HASHED}"
    assert observation["resource"]["subject"]["reference"] == f"Patient/{HASHED}"
    specimen = observation["resource"]["contained"][0]
    assert specimen["subject"]["reference"] == f"Patient/{HASHED}"
