"""A FHIR dateTime or instant sent as a JSON number is invalid, never read as Unix time.

FHIR R4 JSON writes ``dateTime`` and ``instant`` as strings (``"2026-11-20T08:00:00+01:00"``);
a number there is not FHIR. fhir.resources (pydantic, lax mode) would take it as Unix
seconds, or as milliseconds once it passes 2e10: the sample's collection time would be
whatever that heuristic makes of it. As the JSON channel does, each time the service reads
is refused at its path when it is not a string (in a Bundle too).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.lab_ingestion.adapters.fhir_bundle import parse_bundle
from services.lab_ingestion.adapters.fhir_elements import is_element_name
from services.lab_ingestion.adapters.fhir_outcome import FhirInputError
from services.lab_ingestion.adapters.fhir_parser import parse_observation
from services.lab_ingestion.entrypoints.json_body import decode_json
from tests.unit.lab_ingestion.fhir_samples import crp_observation


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"effectiveDateTime": 1763625600}, "Observation.effectiveDateTime"),  # seconds
        ({"effectiveDateTime": 1763625600000}, "Observation.effectiveDateTime"),  # or ms
        ({"effectiveDateTime": 1763625600.5}, "Observation.effectiveDateTime"),
        ({"effectiveDateTime": None, "effectiveInstant": 1763625600},
         "Observation.effectiveInstant"),
        ({"effectiveDateTime": None, "effectivePeriod": {"start": 1763625600}},
         "Observation.effectivePeriod.start"),
        ({"issued": 1763625600}, "Observation.issued"),
    ],
)  # fmt: skip
def test_a_number_where_fhir_wants_a_date_time_string_is_invalid(
    changes: dict[str, Any], where: str
) -> None:
    body = decode_json(json.dumps(crp_observation(**changes)).encode(), is_element_name)
    try:
        message = parse_observation(body, "lab", "FHIR")
    except FhirInputError as error:
        assert [i.expression for i in error.issues] == [where]
        return
    read = message.observations[0]
    pytest.fail(
        f"a JSON number was accepted as a FHIR time: collected_at={read.collected_at}, "
        f"reported_at={read.reported_at}"
    )


def test_a_number_for_a_time_in_a_bundle_entry_is_invalid_at_its_path() -> None:
    bundle = {"resourceType": "Bundle", "type": "batch",
              "entry": [{"resource": crp_observation(issued=1763625600)}]}  # fmt: skip
    parsed = parse_bundle(bundle, "lab", "FHIR")
    error = parsed.entries[0].error
    assert error is not None
    assert [i.expression for i in error.issues] == ["Bundle.entry[0].resource.issued"]


def test_string_times_are_read() -> None:
    read = parse_observation(crp_observation(issued="2026-11-20T09:00:00Z"), "lab", "FHIR")
    assert read.observations[0].collected_at is not None
    assert read.observations[0].reported_at is not None


@pytest.mark.parametrize(
    ("times", "path"),
    [
        ({"effectiveDateTime": 1763625600}, "effectiveDateTime"),
        ({"effectivePeriod": {"start": 1763625600}}, "effectivePeriod.start"),
        ({"issued": 1763625600}, "issued"),
    ],
)
def test_a_number_for_a_reports_time_is_invalid_at_its_path(
    times: dict[str, Any], path: str
) -> None:
    """A DiagnosticReport's times are its results' (review 131): screened as theirs."""
    report = {"resourceType": "DiagnosticReport", "status": "final", "code": {"text": "lab"},
              "result": [{"reference": "urn:uuid:crp"}], **times}  # fmt: skip
    bundle = {"resourceType": "Bundle", "type": "batch", "entry": [
        {"fullUrl": "urn:uuid:rep", "resource": report},
        {"fullUrl": "urn:uuid:crp", "resource": crp_observation()},
    ]}  # fmt: skip
    error = parse_bundle(bundle, "lab", "FHIR").entries[0].error
    assert error is not None
    assert [i.expression for i in error.issues] == [f"Bundle.entry[0].resource.{path}"]
