"""A test Patient (labelled HTEST) contained in the Observation is refused as test data, as
the same Patient sent as a Bundle entry is: its number may be a trial subject's, and its
value must never enter the series that drives dose holds (review 66)."""

from __future__ import annotations

import pytest

from services.lab_ingestion.adapters.fhir_bundle import parse_bundle
from services.lab_ingestion.adapters.fhir_outcome import FhirInputError
from services.lab_ingestion.adapters.fhir_parser import parse_observation
from services.lab_ingestion.domain.model import RejectionCode
from tests.unit.lab_ingestion.fhir_samples import HTEST, crp_observation


def test_an_observation_about_a_contained_test_patient_is_refused() -> None:
    """The laboratory's test patient (labelled HTEST) matching a subject's number, contained
    in the Observation: refused as a Bundle's Patient entry so labelled is ("a test
    patient's too"), never stored as the subject's result."""
    test_patient = {
        "resourceType": "Patient", "id": "p1", "meta": HTEST,
        "identifier": [{"type": {"coding": [{"code": "MR"}]}, "system": "urn:hosp",
                        "value": "MRN4711"}],
    }  # fmt: skip
    resource = crp_observation(contained=[test_patient], subject={"reference": "#p1"})
    try:
        message = parse_observation(resource, "LIS", "HOSP")
    except FhirInputError as error:
        assert error.rejection is RejectionCode.WRONG_PROCESSING_ID
        return
    pytest.fail(
        "a contained Patient labelled HTEST was matched as patient "
        f"{message.patient_identifier!r}: the test patient's value would be stored"
    )


def test_a_bundle_entry_test_patient_is_refused_for_comparison() -> None:
    """The same test patient as a Bundle entry is refused (what the change intended)."""
    test_patient = {
        "resourceType": "Patient", "id": "p1", "meta": HTEST,
        "identifier": [{"type": {"coding": [{"code": "MR"}]}, "system": "urn:hosp",
                        "value": "MRN4711"}],
    }  # fmt: skip
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:p1", "resource": test_patient},
        {"resource": crp_observation(subject={"reference": "urn:uuid:p1"}),
         "request": {"method": "POST", "url": "Observation"}},
    ]}  # fmt: skip
    with pytest.raises(FhirInputError) as raised:
        parse_bundle(bundle, "LIS", "HOSP")
    assert raised.value.rejection is RejectionCode.WRONG_PROCESSING_ID


def test_a_contained_resource_labelled_test_data_is_refused_at_its_path() -> None:
    """Every contained resource is checked, its ``meta.tag`` too, not only the subject's."""
    labelled = {"resourceType": "Patient", "id": "p2", "meta": {"tag": HTEST["security"]}}
    resource = crp_observation(contained=[{"resourceType": "Patient", "id": "p1"}, labelled])
    with pytest.raises(FhirInputError) as raised:
        parse_observation(resource, "LIS", "HOSP")
    assert raised.value.rejection is RejectionCode.WRONG_PROCESSING_ID
    assert [i.expression for i in raised.value.issues] == ["Observation.contained[1].meta.tag"]


def test_a_contained_test_patient_in_a_bundle_entry_is_refused() -> None:
    test_patient = {"resourceType": "Patient", "id": "p1", "meta": HTEST}
    entry = crp_observation(contained=[test_patient], subject={"reference": "#p1"})
    bundle = {"resourceType": "Bundle", "type": "batch", "entry": [{"resource": entry}]}
    error = parse_bundle(bundle, "LIS", "HOSP").entries[0].error
    assert error is not None and error.rejection is RejectionCode.WRONG_PROCESSING_ID


def test_a_test_deployment_takes_a_contained_test_patient() -> None:
    test_patient = {
        "resourceType": "Patient", "id": "p1", "meta": HTEST,
        "identifier": [{"system": "urn:hosp", "value": "MRN4711"}],
    }  # fmt: skip
    resource = crp_observation(contained=[test_patient], subject={"reference": "#p1"})
    message = parse_observation(resource, "LIS", "HOSP", processing_id="T")
    assert message.patient_identifier == "MRN4711"
