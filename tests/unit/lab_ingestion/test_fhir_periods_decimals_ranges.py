"""What FHIR R4 says of a Period, a decimal and a unit, read as it says (review 180).

- A Period whose end is before its start breaks FHIR invariant per-1 (start <= end): an
  ``effectivePeriod`` so written was read by its start, the collection time a guess. It is
  refused (400 ``invariant`` at the Period, kept ``implausible-time``), on the Observation,
  on the DiagnosticReport that gives it its time, and on its Specimen's collection; an end
  on the start's day written as a date alone is not before it.
- FHIR JSON writes a decimal as a JSON number: fhir.resources reads ``"15"`` as 15 and
  ``"1e1"`` as 10, so a string was stored as the number. A value or range bound written as
  a string is refused (400 ``structure``, the element named, the value never echoed); a
  string that is no number stays the validation error it was.
- A reference range whose ``unit`` and ``code`` spell one unit two ways (``10*9/L``,
  ``10*3/uL``) was dropped while the same pair on the value is read; it is read.
"""

from __future__ import annotations

from typing import Any

import pytest

from services.lab_ingestion.adapters.fhir_outcome import FhirInputError
from services.lab_ingestion.adapters.fhir_parser import parse_observation
from services.lab_ingestion.domain.model import RejectionCode
from tests.unit.lab_ingestion.fhir_samples import crp_observation, lab_observation, parsed_bundle

START = "2026-11-20T08:00:00+01:00"
UCUM = "http://unitsofmeasure.org"


def parse(resource: dict[str, Any]) -> Any:
    return parse_observation(resource, "central-lab", "FHIR")


def issue_of(error: FhirInputError) -> tuple[str, str | None]:
    (issue,) = error.issues
    return issue.code, issue.expression


def in_period(end: str, start: str = START) -> dict[str, Any]:
    return crp_observation(effectiveDateTime=None, effectivePeriod={"start": start, "end": end})


@pytest.mark.parametrize(
    "end",
    ["2026-11-19T08:10:00+01:00", "2026-11-20T07:59:59+01:00", "2026-11-19",
     "2026-11-20T06:30:00+00:00"],
    ids=["a-day-before", "a-second-before", "the-day-before", "before-in-another-offset"],
)  # fmt: skip
def test_a_period_ending_before_it_starts_is_refused(end: str) -> None:
    with pytest.raises(FhirInputError) as refused:
        parse(in_period(end))
    assert issue_of(refused.value) == ("invariant", "Observation.effectivePeriod")
    assert "per-1" in str(refused.value)
    assert refused.value.rejection is RejectionCode.IMPLAUSIBLE_TIME


@pytest.mark.parametrize(
    "end",
    [START, "2026-11-20T08:10:00+01:00", "2026-11-20", "2026-11-20T07:30:00+00:00"],
    ids=["the-start", "after", "its-day", "after-in-another-offset"],
)
def test_a_period_ending_at_or_after_its_start_is_read_by_its_start(end: str) -> None:
    (result,) = parse(in_period(end)).observations
    assert result.collected_at is not None and result.collected_at.isoformat() == START


def test_a_reversed_period_fails_a_transaction_and_its_entry_in_a_batch() -> None:
    with pytest.raises(FhirInputError) as refused:
        parsed_bundle("transaction", crp_observation(), in_period("2026-11-19"))
    assert issue_of(refused.value) == ("invariant", "Bundle.entry[1].resource.effectivePeriod")
    good, bad = parsed_bundle("batch", crp_observation(), in_period("2026-11-19")).entries
    assert good.message is not None and bad.error is not None


def test_a_reports_or_specimens_reversed_period_is_refused() -> None:
    period = {"start": START, "end": "2026-11-19T08:00:00+01:00"}
    report = {"resourceType": "DiagnosticReport", "status": "final",
              "code": {"text": "CBC"}, "effectivePeriod": period}  # fmt: skip
    specimen = {"resourceType": "Specimen", "collection": {"collectedPeriod": period}}
    for resource, path in ((report, "effectivePeriod"),
                           (specimen, "collection.collectedPeriod")):  # fmt: skip
        _, entry = parsed_bundle("batch", crp_observation(), resource).entries
        assert entry.error is not None
        assert issue_of(entry.error) == ("invariant", f"Bundle.entry[1].resource.{path}")


def quantity(value: object, unit: str = "mg/L", code: str | None = None) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": code or unit}


@pytest.mark.parametrize("written", ["15", "1e1", "0.3"])
def test_a_value_written_as_a_string_is_refused(written: str) -> None:
    with pytest.raises(FhirInputError) as refused:
        parse(crp_observation(valueQuantity=quantity(written)))
    assert issue_of(refused.value) == ("structure", "Observation.valueQuantity.value")
    assert written not in refused.value.issues[0].diagnostics
    assert "JSON number" in str(refused.value)


@pytest.mark.parametrize("bound", ["low", "high"])
def test_a_range_bound_written_as_a_string_is_refused(bound: str) -> None:
    ranges = [{bound: {"value": "5", "unit": "mg/L"}}]
    with pytest.raises(FhirInputError) as refused:
        parse(crp_observation(referenceRange=ranges))
    assert issue_of(refused.value) == ("structure", f"Observation.referenceRange[0].{bound}.value")


def test_in_a_bundle_a_string_value_fails_its_entry_whatever_the_test() -> None:
    """Invalid FHIR, as a time written as a number is: checked on every Observation."""
    sodium = lab_observation("NA-1", "2951-2", valueQuantity=quantity("140", "mmol/L"))
    crp, bad = parsed_bundle("batch", crp_observation(), sodium).entries
    assert crp.message is not None and bad.error is not None
    assert issue_of(bad.error) == ("structure", "Bundle.entry[1].resource.valueQuantity.value")


def test_a_string_that_is_no_number_stays_a_validation_error() -> None:
    with pytest.raises(FhirInputError) as refused:
        parse(crp_observation(valueQuantity=quantity("twelve")))
    assert issue_of(refused.value) == ("invalid", "Observation.valueQuantity.value")


def test_numbers_are_read_as_written() -> None:
    (result,) = parse(crp_observation(valueQuantity=quantity(15))).observations
    assert result.value == "15"


@pytest.mark.parametrize(
    ("unit", "code", "expected"),
    [("10*9/L", "10*3/uL", "1.5-7 10*3/uL"), ("G/L", "10*9/L", "1.5-7 10*9/L"),
     ("10*9/L", "g/L", None), ("mg/L", "mg/dL", None)],
    ids=["one-unit-two-ways", "a-spelling-of-it", "another-dimension", "another-factor"],
)  # fmt: skip
def test_a_range_unit_is_compared_by_what_it_measures(
    unit: str, code: str, expected: str | None
) -> None:
    bound = {"unit": unit, "system": UCUM, "code": code}
    anc = lab_observation(
        "ANC-1", "751-8", valueQuantity=quantity(0.3, unit, code),
        referenceRange=[{"low": {"value": 1.5, **bound}, "high": {"value": 7, **bound}}],
    )  # fmt: skip
    (result,) = parse(anc).observations
    assert result.reference_range == expected
