"""FHIR Bundles entry by entry: a batch keeps each entry on its own, a transaction is all or
nothing, and every request entry has its place in the result."""

from __future__ import annotations

from typing import Any

import pytest

from services.lab_ingestion.adapters.fhir_bundle import (
    BATCH,
    MAX_BUNDLE_ENTRIES,
    TRANSACTION,
    parse_bundle,
)
from services.lab_ingestion.adapters.fhir_outcome import FhirInputError
from tests.unit.lab_ingestion.route_fakes import MRN, PATIENT, PATIENT_URL, bundle, observation

INVALID = observation(valueQuantity={"value": "n/a"})
OTHER_RESOURCE = {"resourceType": "Medication", "id": "m1"}


def parse(body: dict[str, Any]) -> Any:
    return parse_bundle(body, "LIS", "FHIR")


def test_a_batch_keeps_the_valid_entries_next_to_the_invalid_one() -> None:
    parsed = parse(bundle(BATCH, observation(), INVALID, PATIENT))
    assert parsed.type == BATCH
    valid, invalid, patient = parsed.entries
    assert [e.index for e in parsed.entries] == [0, 1, 2]
    assert valid.message is not None and valid.message.patient_identifier == MRN
    assert invalid.message is None and invalid.error is not None
    assert [i.expression for i in invalid.error.issues] == [
        "Bundle.entry[1].resource.valueQuantity.value"
    ]
    assert patient.is_patient
    assert len(parsed.messages) == 1


def test_an_observation_before_its_patient_is_matched() -> None:
    parsed = parse(bundle(BATCH, observation(subject={"reference": PATIENT_URL}), PATIENT))
    assert parsed.messages[0].patient_identifier == MRN


def test_another_resource_type_is_not_supported_in_a_batch_entry() -> None:
    (entry,) = parse(bundle(BATCH, OTHER_RESOURCE)).entries
    assert entry.error is not None
    (issue,) = entry.error.issues
    assert (issue.code, issue.expression) == (
        "not-supported",
        "Bundle.entry[0].resource.resourceType",
    )
    assert "Medication" in issue.diagnostics


def test_a_transaction_fails_on_any_invalid_or_unsupported_entry() -> None:
    with pytest.raises(FhirInputError) as exc:
        parse(bundle(TRANSACTION, observation(), INVALID, OTHER_RESOURCE))
    assert [(i.code, i.expression) for i in exc.value.issues] == [  # in entry order
        ("invalid", "Bundle.entry[1].resource.valueQuantity.value"),
        ("not-supported", "Bundle.entry[2].resource.resourceType"),
    ]


@pytest.mark.parametrize("kind", ["Jane Doe", "NoSuchThing", "Coding", 7])
def test_an_unknown_resource_type_is_not_echoed(kind: object) -> None:
    (entry,) = parse(bundle(BATCH, {"resourceType": kind})).entries
    assert entry.error is not None
    assert entry.error.issues[0].code == "invalid"
    assert str(kind) not in str(entry.error)


def test_an_entry_without_a_resource_is_an_error_of_its_own() -> None:
    body = bundle(BATCH, observation())
    body["entry"].append({"request": {"method": "GET", "url": "Patient/1"}})
    first, second = parse(body).entries
    assert first.message is not None
    assert second.error is not None and second.error.issues[0].code == "required"


def test_a_bundle_of_another_type_is_still_rejected_as_a_whole() -> None:
    with pytest.raises(FhirInputError) as exc:
        parse(bundle("collection", observation()))
    assert exc.value.issues[0].expression == "Bundle.type"


@pytest.mark.parametrize(
    ("method", "shown"), [("DELETE", "DELETE"), ("PUT", "PUT"), ("GET", "GET"), ("BOGUS", "this")]
)
def test_an_observation_entry_that_is_not_a_create_is_refused(method: str, shown: str) -> None:
    """A DELETE or PUT of a result is no new result: never stored as one."""
    body = bundle(BATCH, observation(), observation())
    body["entry"][1]["request"] = {"method": method, "url": "Observation/o1"}
    kept, refused = parse(body).entries
    assert kept.message is not None and refused.message is None and refused.error is not None
    (issue,) = refused.error.issues
    assert (issue.code, issue.expression) == ("not-supported", "Bundle.entry[1].request.method")
    assert issue.diagnostics.startswith(shown)


def test_a_post_or_no_request_is_a_create() -> None:
    body = bundle(BATCH, observation(), observation())
    body["entry"][0]["request"] = {"method": "POST", "url": "Observation"}
    assert len(parse(body).messages) == 2


def test_a_bundle_of_more_entries_than_a_lab_sends_is_refused_before_parsing() -> None:
    body = bundle(BATCH, *([observation()] * (MAX_BUNDLE_ENTRIES + 1)))
    with pytest.raises(FhirInputError) as exc:
        parse(body)
    (issue,) = exc.value.issues
    assert (issue.code, issue.expression) == ("too-costly", "Bundle.entry")
