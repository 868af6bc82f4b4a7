"""FHIR comparators outside R4 are invalid, never read (review 261 D4).

``valueQuantity.comparator`` is bound to R4's QuantityComparator codes (``<``, ``<=``,
``>=``, ``>``; ``ad`` came with R5, review 268): ``≤`` was read as the limit ``<=`` (201)
where a status outside R4's set is 400 ``code-invalid``. A reference range bound is a
SimpleQuantity (no comparator, invariant sqty-1): ``low`` ``>1`` was published as LLN 1.
Both are refused (400), on every Observation, and in a batch Bundle only that entry.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.fhir_comparators import QUANTITY_COMPARATORS
from services.lab_ingestion.adapters.fhir_outcome import FhirInputError
from services.lab_ingestion.adapters.fhir_parser import parse_observation
from tests.unit.lab_ingestion.fhir_samples import crp_observation, lab_observation, parsed_bundle
from tests.unit.lab_ingestion.hl7_samples import FAST

UCUM = "http://unitsofmeasure.org"
MG_L = {"unit": "mg/L", "system": UCUM, "code": "mg/L"}
# a FHIR code of one word (no whitespace: the models refuse a code that starts with one)
CODES = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp")),
    min_size=1,
    max_size=4,
)


def _parse(resource: dict[str, Any]) -> Any:
    return parse_observation(resource, "central-lab", "FHIR")


def _refused(resource: dict[str, Any]) -> tuple[str, str | None, str]:
    with pytest.raises(FhirInputError) as error:
        _parse(resource)
    (issue,) = error.value.issues
    return issue.code, issue.expression, issue.diagnostics


def _with_comparator(comparator: str) -> dict[str, Any]:
    return crp_observation(valueQuantity={"value": 5, "comparator": comparator, **MG_L})


@FAST
@given(comparator=CODES)
def test_a_value_comparator_is_read_only_when_r4_lists_it(comparator: str) -> None:
    if comparator in QUANTITY_COMPARATORS:
        (observation,) = _parse(_with_comparator(comparator)).observations
        assert observation.value == f"{comparator}5"
        return
    code, expression, diagnostics = _refused(_with_comparator(comparator))
    assert (code, expression) == ("code-invalid", "Observation.valueQuantity.comparator")
    assert diagnostics.startswith("comparator is not an R4 QuantityComparator code")


@pytest.mark.parametrize("comparator", ["\u2264", "\u2265", "=<", "=", "<>", "lt", "LT", "~", "ad"])
def test_comparators_written_otherwise_are_invalid(comparator: str) -> None:
    code, expression, _ = _refused(_with_comparator(comparator))
    assert (code, expression) == ("code-invalid", "Observation.valueQuantity.comparator")


def test_another_tests_observation_is_refused_too() -> None:
    """Invalid FHIR, as a status outside R4's set is, whatever the test."""
    cholesterol = lab_observation(
        "CHOL-1", "2093-3", valueQuantity={"value": 5, "comparator": "\u2264", **MG_L}
    )
    code, _, _ = _refused(cholesterol)
    assert code == "code-invalid"


@pytest.mark.parametrize("side", ["low", "high"])
@pytest.mark.parametrize("comparator", ["<", "<=", ">=", ">", "ad", "\u2264"])
def test_a_comparator_on_a_range_bound_is_refused(side: str, comparator: str) -> None:
    bounds = {"low": {"value": 1, **MG_L}, "high": {"value": 5, **MG_L}}
    bounds[side] = bounds[side] | {"comparator": comparator}
    code, expression, diagnostics = _refused(crp_observation(referenceRange=[{}, bounds]))
    assert (code, expression) == ("invariant", f"Observation.referenceRange[1].{side}.comparator")
    assert diagnostics.startswith("sqty-1")


def test_in_a_batch_only_the_entry_is_refused() -> None:
    bad = _with_comparator("\u2264") | {"identifier": [{"system": "urn:lab", "value": "B"}]}
    parsed = parsed_bundle("batch", crp_observation(), bad)
    assert [entry.error is not None for entry in parsed.entries] == [False, True]


def test_a_range_without_comparators_is_read() -> None:
    ref = {"low": {"value": 0, **MG_L}, "high": {"value": 5, **MG_L}}
    (observation,) = _parse(crp_observation(referenceRange=[ref])).observations
    assert observation.reference_range == "0-5 mg/L"
