"""Free text where a FHIR resource's type belongs (a name and birth date a broken converter
wrote there) is masked in the kept copy, as a flag or a status that is no code is (review
108); a resource type's name, R4's in any case, is kept as sent."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.lab_ingestion.adapters.fhir_elements import resource_model
from services.lab_ingestion.adapters.fhir_redaction import redact_fhir
from services.lab_ingestion.adapters.redaction import REDACTED
from tests.unit.lab_ingestion.route_fakes import hash_identifier, observation

TEXT = "Hubermann Roswitha 17.03.1951"


def entry(resource: dict[str, object]) -> dict[str, object]:
    return {"fullUrl": "urn:uuid:1", "resource": resource,
            "request": {"method": "POST", "url": "Observation"}}  # fmt: skip


@pytest.mark.parametrize("kind", [TEXT, "Hubermann", "HumanName", "Observation Roswitha", 1951])
def test_a_bundle_entrys_type_that_names_no_resource_type_is_masked(kind: object) -> None:
    bundle = {"resourceType": "Bundle", "type": "transaction",
              "entry": [entry({"resourceType": kind, "id": "a"})]}  # fmt: skip
    redacted = redact_fhir(bundle, hash_identifier)
    assert redacted["entry"][0]["resource"] == {"resourceType": REDACTED, "id": "a"}
    assert "Hubermann" not in json.dumps(redacted) and "1951" not in json.dumps(redacted)


@pytest.mark.parametrize("kind", ["Observation", "observation", "Specimen", "Organization"])
def test_a_resource_types_name_is_kept_as_sent(kind: str) -> None:
    resource = observation(contained=[{"resourceType": kind, "id": "c"}])
    assert redact_fhir(resource, hash_identifier)["contained"][0]["resourceType"] == kind


def test_the_masked_type_is_not_searched_for_elsewhere() -> None:
    """As a flag's text: a word such as "Report" there must not wipe a code's text."""
    resource = observation(contained=[{"resourceType": "Report", "id": "c"}],
                           method={"text": "Report"})  # fmt: skip
    redacted = redact_fhir(resource, hash_identifier)
    assert redacted["contained"] == [{"resourceType": REDACTED, "id": "c"}]
    assert redacted["method"] == {"text": "Report"}


def test_a_missing_or_blank_type_stays_as_it_is() -> None:
    for kind in ("", " "):
        resource = observation(contained=[{"resourceType": kind, "id": "c"}])
        assert redact_fhir(resource, hash_identifier)["contained"][0]["resourceType"] == kind
    resource = observation(contained=[{"id": "c"}])
    assert redact_fhir(resource, hash_identifier)["contained"] == [{"id": "c"}]


@given(st.one_of(st.text(max_size=40), st.integers(), st.none()))
@settings(max_examples=300)
def test_a_kept_resource_type_is_a_resource_types_name_a_blank_or_the_mask(kind: object) -> None:
    bundle = {"resourceType": "Bundle", "type": "batch",
              "entry": [entry({"resourceType": kind, "id": "a"})]}  # fmt: skip
    kept = redact_fhir(bundle, hash_identifier)["entry"][0]["resource"].get("resourceType")
    if isinstance(kind, str) and resource_model(kind) is not None:
        assert kept == kind
    else:
        assert kept in (REDACTED, None) or (isinstance(kept, str) and not kept.strip())
