"""A FHIR resource holding more contained resources or identifiers than a laboratory's does
is refused as too costly before it is validated, as a Bundle of too many entries is (review
132: one Observation with 16,000 contained Patients held a worker for 31 s); the rejection
is kept, its copy redacted, and so is a Bundle naming too many in all."""

from __future__ import annotations

from typing import Any

import pytest

from services.lab_ingestion.adapters.fhir_bundle import BATCH, parse_bundle
from services.lab_ingestion.adapters.fhir_limits import MAX_CONTAINED, MAX_IDENTIFIERS, MAX_NAMED
from services.lab_ingestion.adapters.fhir_outcome import FhirInputError
from services.lab_ingestion.adapters.fhir_parser import parse_observation
from tests.unit.lab_ingestion.route_fakes import FakeSubmit, bundle, observation
from tests.unit.lab_ingestion.test_fhir_routes import issue, post


def _patients(count: int) -> list[dict[str, Any]]:
    return [
        {"resourceType": "Patient", "id": f"p{i}", "identifier": [{"value": f"M{i:05d}"}]}
        for i in range(count)
    ]


def _refusal(resource: dict[str, Any]) -> tuple[str, str | None]:
    with pytest.raises(FhirInputError) as exc:
        parse_observation(resource, "LIS", "FHIR")
    (refused,) = exc.value.issues
    return refused.code, refused.expression


def test_an_observation_with_too_many_contained_resources_is_refused() -> None:
    resource = observation(contained=_patients(MAX_CONTAINED + 1))
    assert _refusal(resource) == ("too-costly", "Observation.contained")


def test_an_observation_with_too_many_identifiers_is_refused() -> None:
    identifiers = [{"system": "urn:lab", "value": f"T{i}"} for i in range(MAX_IDENTIFIERS + 1)]
    assert _refusal(observation(identifier=identifiers)) == ("too-costly", "Observation")
    inside = [{"resourceType": "Patient", "id": "p1", "identifier": identifiers}]
    assert _refusal(observation(contained=inside)) == ("too-costly", "Observation")


def test_as_many_as_the_limit_are_read() -> None:
    resource = observation(contained=_patients(20))
    parse_observation(resource, "LIS", "FHIR")  # (no refusal: a laboratory's few are read)


def test_a_bundle_entry_with_too_many_contained_resources_is_refused() -> None:
    body = bundle(BATCH, observation(contained=_patients(MAX_CONTAINED + 1)))
    entry = parse_bundle(body, "LIS", "FHIR").entries[0]
    assert entry.error is not None
    assert [(i.code, i.expression) for i in entry.error.issues] == [
        ("too-costly", "Bundle.entry[0].resource.contained")
    ]


def test_a_bundle_naming_too_many_in_all_is_refused_before_parsing() -> None:
    per_entry = MAX_NAMED // 20 + 1
    entries = [observation(contained=_patients(per_entry)) for _ in range(20)]
    with pytest.raises(FhirInputError) as exc:
        parse_bundle(bundle(BATCH, *entries), "LIS", "FHIR")
    (refused,) = exc.value.issues
    assert (refused.code, refused.expression) == ("too-costly", "Bundle.entry")


async def test_the_refusal_is_answered_and_kept_as_the_bundle_cap_is() -> None:
    submit = FakeSubmit()
    resource = observation(contained=_patients(MAX_CONTAINED + 1))
    status, outcome, _ = await post(submit, "/fhir/Observation", resource)
    assert status == 400
    assert issue(outcome)["code"] == "too-costly"
    (rejection,) = submit.rejections
    assert "M00042" not in rejection.redacted_payload
    assert rejection.redacted_payload  # kept, redacted
