"""A FHIR subject whose literal reference and identifier agree (review 55): the reference
decides which Patient, the identifier which of its numbers the laboratory means; one that
names the Patient by a number never matched (national, insurance) still agrees with it.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from services.lab_ingestion.adapters.fhir_bundle import BATCH, parse_bundle
from services.lab_ingestion.adapters.fhir_outcome import FhirInputError
from services.lab_ingestion.adapters.fhir_parser import parse_observation
from services.lab_ingestion.domain.patient_identity import resolve_patient_identifier
from tests.unit.lab_ingestion.route_fakes import CRP, MRN

V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
HOSPITAL = "urn:oid:2.16.840.1.113883.3.9999.1"  # the hospital's MRN authority
PATIENT_UUID = "urn:uuid:0b7e5d0e-8f0a-4c59-9a57-3c1f3e1d2b11"
OBSERVATION_UUID = "urn:uuid:5a3c2b1d-4e6f-4a8b-9c0d-1e2f3a4b5c6d"


def _typed(code: str) -> dict[str, Any]:
    return {"coding": [{"system": V2_0203, "code": code}]}


# An EHR's Patient as FHIR servers send it: the hospital MRN and an enterprise (master
# patient index) number of another authority
PATIENT_OF_TWO_AUTHORITIES: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "p1",
    "identifier": [
        {"use": "usual", "type": _typed("MR"), "system": HOSPITAL, "value": MRN},
        {"use": "secondary", "type": _typed("PI"), "system": "urn:oid:2.16.840.1.113883.3.9999.77",
         "value": "EMPI-0042"},
    ],
    "name": [{"family": "Smith", "given": ["John"]}],
}  # fmt: skip
SUBJECT = {"reference": PATIENT_UUID, "identifier": {"system": HOSPITAL, "value": MRN}}


def _observation(**changes: Any) -> dict[str, Any]:
    resource = copy.deepcopy(CRP)
    resource.update(changes)
    return resource


def test_a_bundle_patient_of_several_numbers_named_by_reference_and_its_mrn_is_matched() -> None:
    """The identifier says which of the Patient's numbers of two authorities the lab means:
    the MRN is matched, even for a sender without a configured authority (every number of
    the Patient a candidate would be ambiguous-patient-identifier)."""
    body = {
        "resourceType": "Bundle", "type": BATCH,
        "entry": [
            {"fullUrl": PATIENT_UUID, "resource": PATIENT_OF_TWO_AUTHORITIES},
            {"fullUrl": OBSERVATION_UUID, "resource": _observation(subject=SUBJECT)},
        ],
    }  # fmt: skip
    (message,) = parse_bundle(body, "LIS", "FHIR").messages
    assert resolve_patient_identifier(message, None) == MRN
    assert message.patient_identifier == MRN


def test_a_contained_patient_of_several_numbers_named_by_reference_and_its_mrn_is_matched() -> None:
    resource = _observation(
        contained=[PATIENT_OF_TWO_AUTHORITIES],
        subject={"reference": "#p1", "identifier": {"system": HOSPITAL, "value": MRN}},
    )
    message = parse_observation(resource, "LIS", "FHIR")
    assert resolve_patient_identifier(message, None) == MRN


@pytest.mark.parametrize(
    ("kind", "system", "number"),
    [
        ("SS", "http://hl7.org/fhir/sid/us-ssn", "999-12-3456"),  # US Core Patient's SSN
        ("NI", "urn:oid:2.16.578.1.12.4.1.4.1", "13116900216"),  # a national person number
    ],
)
def test_a_subject_identifier_that_is_the_referenced_patients_national_number_is_accepted(
    kind: str, system: str, number: str
) -> None:
    """The identifier is one of the referenced Patient's identifiers (its national number,
    which the Patient types SS/NI, and which is never matched): reference and identifier
    agree, and the Patient's patient numbers are its candidates."""
    patient = {
        "resourceType": "Patient",
        "id": "p1",
        "identifier": [
            {"type": _typed("MR"), "system": HOSPITAL, "value": MRN},
            {"type": _typed(kind), "system": system, "value": number},
        ],
    }
    resource = _observation(
        contained=[patient],
        subject={"reference": "#p1", "identifier": {"system": system, "value": number}},
    )
    try:
        message = parse_observation(resource, "LIS", "FHIR")
    except FhirInputError as exc:
        pytest.fail(f"refused: {[(i.code, i.expression, i.diagnostics) for i in exc.issues]}")
    assert [c.value for c in message.identifier_candidates] == [MRN]


@pytest.mark.parametrize("spelling", [MRN.lower(), f" {MRN[:3]} {MRN[3:]} "])
def test_an_identifier_spelling_the_referenced_patients_number_otherwise_agrees(
    spelling: str,
) -> None:
    """Matching compares hospital numbers normalised (case and white space: one hash), so
    a subject identifier spelling the referenced Patient's number in lower case or with
    spaces names that number (review 185: it was refused as naming another patient)."""
    resource = _observation(
        contained=[PATIENT_OF_TWO_AUTHORITIES],
        subject={"reference": "#p1", "identifier": {"system": HOSPITAL, "value": spelling}},
    )
    message = parse_observation(resource, "LIS", "FHIR")
    assert resolve_patient_identifier(message, None) == MRN
