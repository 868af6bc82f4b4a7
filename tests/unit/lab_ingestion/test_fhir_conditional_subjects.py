"""A subject named by a conditional reference (``Patient?identifier=system|value``): its one
number is the referenced Patient's, compared with ``subject.identifier`` as a contained
Patient's is; a search this service cannot answer without guessing is refused."""

from __future__ import annotations

from typing import Any

import pytest

from services.lab_ingestion.adapters.fhir_bundle import BATCH, TRANSACTION
from services.lab_ingestion.adapters.fhir_conditional import (
    UnresolvableReference,
    conditional_numbers,
)
from services.lab_ingestion.adapters.fhir_outcome import FhirInputError
from services.lab_ingestion.adapters.fhir_parser import parse_observation
from services.lab_ingestion.domain.model import IdentifierCandidate
from tests.unit.lab_ingestion.fhir_samples import crp_observation, parsed_bundle


def parse(subject: dict[str, Any]) -> Any:
    return parse_observation(crp_observation(subject=subject), "central-lab", "FHIR")


@pytest.mark.parametrize(
    ("reference", "number"),
    [
        ("Patient?identifier=urn:hosp|MRN4711", IdentifierCandidate("MRN4711", "urn:hosp")),
        ("Patient?identifier=urn%3Ahosp%7CMRN4711", IdentifierCandidate("MRN4711", "urn:hosp")),
        ("https://ehr.example/fhir/Patient?identifier=urn:hosp|MRN4711",
         IdentifierCandidate("MRN4711", "urn:hosp")),
        ("Patient?identifier=MRN4711", IdentifierCandidate("MRN4711")),
        ("Patient?identifier=|MRN4711", IdentifierCandidate("MRN4711")),
    ],
)  # fmt: skip
def test_one_identifier_parameter_names_one_number(
    reference: str, number: IdentifierCandidate
) -> None:
    numbers = conditional_numbers(reference)
    assert numbers is not None and numbers.candidates == (number,)


@pytest.mark.parametrize(
    "reference",
    [
        "Patient?name=Doe&birthdate=1958-02-14",
        "Patient?identifier=urn:hosp|MRN4711&identifier=urn:hosp|MRN9999",
        "Patient?identifier=urn:hosp|MRN4711,urn:hosp|MRN9999",
        "Patient?identifier:of-type=MR|MRN4711",
        "Patient?identifier=urn:hosp|",
        "Patient?identifier=",
        "Patient?identifier",
        "Patient?identifier=urn:hosp|MRN\\|4711",
        "Patient?",
        "?identifier=urn:hosp|MRN4711",
        "Patient/p1?_format=json",
    ],
)
def test_any_other_search_is_not_resolved(reference: str) -> None:
    with pytest.raises(UnresolvableReference):
        conditional_numbers(reference)


def test_a_literal_reference_is_no_conditional_one() -> None:
    assert conditional_numbers("Patient/p1") is None


def test_a_conditional_reference_alone_names_the_patient() -> None:
    message = parse({"reference": "Patient?identifier=urn:hosp|MRN4711"})
    assert message.patient_identifier == "MRN4711"
    assert message.identifier_candidates == (IdentifierCandidate("MRN4711", "urn:hosp"),)


def test_an_agreeing_identifier_gives_the_authority_the_reference_left_out() -> None:
    message = parse({"reference": "Patient?identifier=MRN4711",
                     "identifier": {"system": "urn:hosp", "value": "MRN4711"}})  # fmt: skip
    assert message.identifier_candidates == (IdentifierCandidate("MRN4711", "urn:hosp"),)


@pytest.mark.parametrize(
    "reference",
    ["Patient?identifier=urn:hosp|MRN9999", "Patient?identifier=urn:other|MRN4711"],
    ids=["another-number", "another-authority"],
)
def test_a_disagreeing_identifier_is_refused(reference: str) -> None:
    with pytest.raises(FhirInputError) as refused:
        parse({"reference": reference, "identifier": {"system": "urn:hosp", "value": "MRN4711"}})
    (issue,) = refused.value.issues
    assert (issue.code, issue.expression) == ("invalid", "Observation.subject")


def test_a_search_by_name_is_refused_without_quoting_it() -> None:
    with pytest.raises(FhirInputError) as refused:
        parse({"reference": "Patient?family=Doe",
               "identifier": {"system": "urn:hosp", "value": "MRN4711"}})  # fmt: skip
    (issue,) = refused.value.issues
    assert (issue.code, issue.expression) == ("not-supported", "Observation.subject.reference")
    assert "Doe" not in str(refused.value) and "MRN4711" not in str(refused.value)


def test_in_a_batch_only_that_entry_fails() -> None:
    bad = crp_observation(
        subject={
            "reference": "Patient?identifier=urn:hosp|MRN9999",
            "identifier": {"system": "urn:hosp", "value": "MRN4711"},
        }
    )
    good = crp_observation(
        identifier=[{"system": "urn:lab", "value": "OBS-2"}],
        subject={"reference": "Patient?identifier=urn:hosp|MRN4711"},
    )
    first, second = parsed_bundle(BATCH, bad, good).entries  # fmt: skip
    assert first.error is not None and second.message is not None
    assert second.message.identifier_candidates == (IdentifierCandidate("MRN4711", "urn:hosp"),)


def test_in_a_transaction_it_fails_the_whole() -> None:
    bad = crp_observation(
        subject={
            "reference": "Patient?identifier=urn:hosp|MRN9999",
            "identifier": {"system": "urn:hosp", "value": "MRN4711"},
        }
    )
    with pytest.raises(FhirInputError):
        parsed_bundle(TRANSACTION, bad, crp_observation(identifier=None))  # fmt: skip
