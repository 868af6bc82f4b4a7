"""A focus is checked only on an Observation that would become a trial result: an
Observation of no trial analyte is ignored, and one with a focus never fails a transaction
and so loses the trial result beside it (review 66)."""

from __future__ import annotations

from typing import Any

import pytest

from services.lab_ingestion.adapters.fhir_bundle import parse_bundle
from services.lab_ingestion.adapters.fhir_outcome import FhirInputError
from services.lab_ingestion.adapters.fhir_parser import parse_observation
from services.lab_ingestion.domain.model import RejectionCode
from tests.unit.lab_ingestion.fhir_samples import HTEST, crp_observation

ABO = {"coding": [{"system": "http://loinc.org", "code": "883-9"}]}  # ABO group: not the trial's


@pytest.mark.parametrize(
    "other",
    [
        {"focus": [{"reference": "Patient/donor-1"}]},  # a donor's blood group, say
    ],
)
def test_a_transaction_is_not_refused_over_an_observation_the_service_ignores(
    other: dict[str, Any],
) -> None:
    """An Observation of no trial analyte is ignored, "nothing else of it is checked"
    (``BundleEntry``), as HL7's other tests are read leniently: it must not fail the
    transaction and so lose the trial result (here a CRP) beside it."""
    ignored = crp_observation(identifier=[{"system": "urn:lab", "value": "OBS-2"}], code=ABO,
                   valueQuantity=None, valueString="A pos", **other)  # fmt: skip
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": crp_observation(), "request": {"method": "POST", "url": "Observation"}},
        {"resource": ignored, "request": {"method": "POST", "url": "Observation"}},
    ]}  # fmt: skip
    try:
        parsed = parse_bundle(bundle, "LIS", "HOSP")
    except FhirInputError as error:
        pytest.fail(f"the whole transaction, its CRP too, was refused: {error}")
    assert parsed.entries[0].message is not None
    assert parsed.entries[1].ignored


FOCUS = [{"reference": "Patient/donor-1"}]


def test_a_single_observation_of_no_trial_analyte_with_a_focus_is_read_not_refused() -> None:
    """Answered downstream as of no trial analyte (ignored), never a 400 kept as a rejection."""
    message = parse_observation(
        crp_observation(code=ABO, valueQuantity=None, valueString="A pos", focus=FOCUS),
        "LIS",
        "HOSP",
    )
    assert message.observations[0].codes[0].code == "883-9"


def test_a_trial_observation_with_a_focus_is_refused_in_a_batch_at_its_path() -> None:
    bundle = {"resourceType": "Bundle", "type": "batch",
              "entry": [{"resource": crp_observation(focus=FOCUS)}]}  # fmt: skip
    error = parse_bundle(bundle, "LIS", "HOSP").entries[0].error
    assert error is not None
    assert [i.expression for i in error.issues] == ["Bundle.entry[0].resource.focus"]


def test_a_trial_observation_with_a_focus_fails_its_transaction() -> None:
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": crp_observation(focus=FOCUS),
         "request": {"method": "POST", "url": "Observation"}},
    ]}  # fmt: skip
    with pytest.raises(FhirInputError) as raised:
        parse_bundle(bundle, "LIS", "HOSP")
    assert [i.expression for i in raised.value.issues] == ["Bundle.entry[0].resource.focus"]


def test_test_data_of_no_trial_analyte_still_fails_its_transaction() -> None:
    """Test data is never stored: a test Bundle is refused whole, whatever its entries are."""
    test_abo = crp_observation(identifier=[{"system": "urn:lab", "value": "OBS-2"}], code=ABO,
                    valueQuantity=None, valueString="A pos", meta=HTEST)  # fmt: skip
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": crp_observation(), "request": {"method": "POST", "url": "Observation"}},
        {"resource": test_abo, "request": {"method": "POST", "url": "Observation"}},
    ]}  # fmt: skip
    with pytest.raises(FhirInputError) as raised:
        parse_bundle(bundle, "LIS", "HOSP")
    assert raised.value.rejection is RejectionCode.WRONG_PROCESSING_ID


def test_a_number_for_a_time_is_invalid_fhir_on_an_observation_of_no_trial_analyte_too() -> None:
    """Not FHIR at all (as any validation error of an ignored Observation is)."""
    bundle = {"resourceType": "Bundle", "type": "batch", "entry": [{"resource": crp_observation(
        code=ABO, valueQuantity=None, valueString="A pos", issued=1763625600)}]}  # fmt: skip
    error = parse_bundle(bundle, "LIS", "HOSP").entries[0].error
    assert error is not None
    assert [i.expression for i in error.issues] == ["Bundle.entry[0].resource.issued"]
