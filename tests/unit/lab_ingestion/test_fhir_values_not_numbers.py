"""A FHIR trial result whose value is there but is no single number (review 157): a Range, a
Ratio, SampledData, a time, dateTime or Period, a code, a boolean, or a Quantity with a
comparator and no value. Each is refused as no number, naming its type and element, never
read as empty (which left it out as not obtained beside another result, or told a Range
"is empty"); a Quantity of neither value nor comparator (an empty OBX-5) and a text saying
it was not obtained stay not obtained."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from services.lab_ingestion.adapters.fhir_parser import parse_observation
from services.lab_ingestion.domain.model import ObservationInput, Rejected, RejectionCode
from services.lab_ingestion.domain.normalise import normalise
from services.lab_ingestion.domain.reason_wording import fhir_element, for_fhir
from services.lab_ingestion.domain.unobtained import holds_no_value

UCUM = "http://unitsofmeasure.org"


def _quantity(value: str | None = None, **more: Any) -> dict[str, Any]:
    given = {"value": Decimal(value)} if value is not None else {}
    return given | {"unit": "10*9/L", "system": UCUM, "code": "10*9/L"} | more


def _observation(**value: Any) -> ObservationInput:
    resource = {
        "resourceType": "Observation",
        "identifier": [{"system": "urn:lab", "value": "R-1"}],
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "751-8"}]},
        "subject": {"identifier": {"system": "urn:hosp", "value": "MRN-1"}},
        "effectiveDateTime": "2026-11-20T08:00:00+01:00",
    } | value
    (observation,) = parse_observation(resource, "LIS", "HOSP").observations
    assert observation.collected_at == datetime(2026, 11, 20, 7, tzinfo=UTC)
    return observation


NOT_NUMBERS = [
    ("valueRange", "a Range", {"low": _quantity("0.3"), "high": _quantity("0.4")}),
    ("valueRange", "a Range", {"low": _quantity("0.3")}),
    ("valueRatio", "a Ratio", {"numerator": _quantity("3"), "denominator": _quantity("10")}),
    ("valueSampledData", "SampledData",
     {"origin": _quantity("0"), "period": 1, "dimensions": 1, "data": "140 150"}),
    ("valueTime", "a time", "08:00:00"),
    ("valueDateTime", "a dateTime", "2026-11-20T08:00:00+01:00"),
    ("valuePeriod", "a Period", {"start": "2026-11-20T08:00:00+01:00"}),
    ("valueCodeableConcept", "a code",
     {"coding": [{"system": "http://snomed.info/sct", "code": "260385009"}]}),
    ("valueCodeableConcept", "a code", {"text": "negative"}),
    ("valueBoolean", "a boolean", False),
    ("valueQuantity", "a comparator without a number", _quantity(comparator="<")),
]  # fmt: skip


@pytest.mark.parametrize(("element", "kind", "value"), NOT_NUMBERS)
def test_a_value_of_no_single_number_is_refused_naming_its_type(
    element: str, kind: str, value: Any
) -> None:
    observation = _observation(**{element: value}, interpretation=[{"coding": [{"code": "L"}]}])
    assert not holds_no_value(observation)  # never left out as not obtained
    refused = normalise(observation)
    assert isinstance(refused, Rejected), refused
    assert refused.code is RejectionCode.NON_NUMERIC_VALUE
    assert refused.reason.startswith(f"neutrophils value is {kind} (Observation.{element})")
    assert refused.reason.endswith(
        "not one number: send the measurement in valueQuantity.value (a limit with "
        "valueQuantity.comparator)"
    ), refused.reason
    # as a FHIR sender is told it: the one element, where the OperationOutcome issue lies
    assert for_fhir(refused.reason) == refused.reason
    assert fhir_element(refused.reason) == f"Observation.{element}"


@pytest.mark.parametrize(
    "value",
    [{"valueQuantity": _quantity()}, {"valueQuantity": {"unit": "10*9/L"}},
     {"valueString": "hemolysed"}, {"valueCodeableConcept": {"text": "QNS"}},
     {"dataAbsentReason": {"text": "error"}}, {}],
)  # fmt: skip
def test_an_empty_quantity_or_a_text_of_no_value_stays_not_obtained(value: Any) -> None:
    """README: as an empty OBX-5, or a text HL7 would send for a count not made (a coded
    one too, as HL7's CE)."""
    assert holds_no_value(_observation(**value))


def test_a_limit_is_still_read_as_its_comparator_and_value() -> None:
    observation = _observation(valueQuantity=_quantity("0.5", comparator="<"))
    assert (observation.value, observation.not_a_number) == ("<0.5", None)


def test_an_integer_is_a_number_refused_for_its_missing_unit() -> None:
    """valueInteger is a number: what it lacks is its unit, and the reason says so (with
    the valueQuantity to send: ``reason_wording``)."""
    observation = _observation(valueInteger=1)
    assert observation.not_a_number is None
    refused = normalise(observation)
    assert isinstance(refused, Rejected) and refused.code is RejectionCode.MISSING_UNIT
