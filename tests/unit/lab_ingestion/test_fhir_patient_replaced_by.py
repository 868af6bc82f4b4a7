"""A FHIR Patient linked ``replaced-by`` another (``Patient.link`` is a modifier element in
R4: the record must no longer be used) is refused, as a Patient's modifier extension or
implicit rules are, never matched by its own number (review 185: a contained Patient MRN9999
replaced by MRN4711, an enrolled subject's, was discarded as not enrolled)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.lab_ingestion.adapters.fhir_bundle import parse_bundle
from services.lab_ingestion.adapters.fhir_outcome import FhirInputError
from services.lab_ingestion.adapters.fhir_parser import parse_observation
from services.lab_ingestion.adapters.fhir_redaction import redact_fhir
from tests.unit.lab_ingestion.fhir_samples import crp_observation

PATIENT_URL = "urn:uuid:6b1f3a2e-0c1d-4f7e-9a3b-5d2c1e0f9a11"
REPLACED_BY = {"type": "replaced-by", "other": {"identifier": {"system": "urn:hosp", "value": "MRN4711"}}}  # fmt: skip  # noqa: E501


def patient(link: list[dict[str, Any]], **more: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": "p1", "link": link,
            "identifier": [{"system": "urn:hosp", "value": "MRN9999",
                            "type": {"coding": [{"code": "MR"}]}}], **more}  # fmt: skip


def contained(link: list[dict[str, Any]]) -> Any:
    resource = crp_observation(contained=[patient(link, id="c1")], subject={"reference": "#c1"})
    return parse_observation(resource, "central-lab", "FHIR", lambda s: f"h({s})")


def test_a_contained_patient_replaced_by_another_is_refused() -> None:
    with pytest.raises(FhirInputError) as refused:
        contained([{"type": "seealso", **{"other": REPLACED_BY["other"]}}, REPLACED_BY])
    assert "Patient.link" in str(refused.value)
    assert refused.value.issues[0].expression == "Observation.contained[0].link[1].type"


def test_a_bundle_patient_replaced_by_another_is_refused() -> None:
    entries = [
        {"fullUrl": PATIENT_URL, "resource": patient([REPLACED_BY]),
         "request": {"method": "POST", "url": "Patient"}},
        {"fullUrl": "urn:uuid:6b1f3a2e-0c1d-4f7e-9a3b-5d2c1e0f9a12",
         "resource": crp_observation(subject={"reference": PATIENT_URL}),
         "request": {"method": "POST", "url": "Observation"}},
    ]  # fmt: skip
    with pytest.raises(FhirInputError) as refused:
        parse_bundle(
            {"resourceType": "Bundle", "type": "transaction", "entry": entries},
            "central-lab", "FHIR", lambda s: f"h({s})",
        )  # fmt: skip
    assert "Patient.link" in str(refused.value)


@pytest.mark.parametrize("kind", ["replaces", "refer", "seealso"])
def test_other_links_leave_the_patient_read_by_its_own_number(kind: str) -> None:
    message = contained([{"type": kind, "other": REPLACED_BY["other"]}])
    assert message.patient_identifier == "MRN9999"


@pytest.mark.parametrize("kind", ["replaced-by", "replaces", "seealso", "refer"])
@pytest.mark.parametrize("reference", [None, "Patient/MRN5555"])
def test_a_linked_records_identifier_is_hashed_in_the_kept_copy(
    kind: str, reference: str | None
) -> None:
    """Review 190: ``Patient.link.other`` is a reference to a person; without a reference
    naming a Patient, its identifier was kept in plain text (``MRN5555``), its display
    too."""
    other = {"identifier": {"system": "urn:hosp", "value": "MRN5555"},
             "display": "HUBERMANN ROSWITHA", "reference": reference}  # fmt: skip
    other = {name: value for name, value in other.items() if value is not None}
    body = crp_observation(
        contained=[patient([{"type": kind, "other": other}], id="c1")],
        subject={"reference": "#c1"},
        note=[{"text": "see MRN5555"}],
        code={
            "text": "CRP (Hubermann)",
            "coding": [{"system": "http://loinc.org", "code": "1988-5"}],
        },
    )
    copy = json.dumps(redact_fhir(body, lambda s: f"HMAC:{len(s)}"))
    assert "MRN5555" not in copy and "HUBERMANN" not in copy.upper(), copy
    link = redact_fhir(body, lambda s: f"HMAC:{len(s)}")["contained"][0]["link"][0]
    assert link["type"] == kind
    assert link["other"]["identifier"] == {"system": "urn:hosp", "value": "HMAC:7"}
    assert "display" not in link["other"]
    assert link["other"].get("reference") == (reference and "Patient/HMAC:7")


def test_a_persons_link_target_is_reduced_as_a_reference_to_a_person() -> None:
    person = {
        "resourceType": "Person",
        "link": [{"target": {"identifier": {"value": "MRN5555"}, "display": "ROSWITHA HUBERMANN"}}],
    }
    copy = redact_fhir(person, lambda s: f"HMAC:{len(s)}")
    assert copy["link"] == [{"target": {"identifier": {"value": "HMAC:7"}}}], copy
