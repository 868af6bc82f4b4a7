"""A FHIR reference range bound whose unit display is written in words is read as the value's
display is (review 261 D3).

``fhir_values._range_unit`` compared a bound's code with its display only where the display
was written as a unit (``mg/dL``): words (``milligrams per decilitre``, ``mg per dL``,
``mg/dL (milligrams per decilitre)``) were passed over, the range read in the code's unit
(ULN 1 mg/L published where the laboratory said 1 mg/dL; with 0.8 the whole CRP refused as
a unit slip). Words naming another unit, or words that cannot be read as one unit, drop the
range; words naming the code's unit, or no unit, leave it read.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.fhir_parser import parse_observation
from services.lab_ingestion.domain.model import NormalisedResult
from services.lab_ingestion.domain.normalise import normalise
from tests.unit.lab_ingestion.fhir_samples import crp_observation
from tests.unit.lab_ingestion.hl7_samples import FAST

UCUM = "http://unitsofmeasure.org"
# words, and the unit they name (None: words that cannot be read as one unit)
WORDS: dict[str, str | None] = {
    "milligrams per decilitre": "mg/dL",
    "mg per dL": "mg/dL",
    "mg/dL (milligrams per decilitre)": "mg/dL",
    "Milligramm pro Deziliter": "mg/dL",
    "milligrammes par d\u00e9cilitre": "mg/dL",
    "CRP (mg/dL)": "mg/dL",
    "milligrams per litre": "mg/L",
    "Milligramm pro Liter": "mg/L",
    "mg/L (milligrams per litre)": "mg/L",
    "grams per litre": "g/L",
    "grams per decilitre": "g/dL",
    "grams per 100 millilitres": "g/100mL",  # g/dL by its factor
    "micrograms per millilitre": "ug/mL",  # mg/L by its factor
    "milligrams per litre of serum": None,
    "PLT units": None,
}
CODES = ["mg/L", "mg/dL", "g/L", "g/dL"]
SAME_FACTOR = {frozenset({"mg/L", "ug/mL"}), frozenset({"g/dL", "g/100mL"})}


def _crp_range(code: str, display: str, **bounds: float) -> dict[str, Any]:
    quantity = {"system": UCUM, "code": code, "unit": display}
    return crp_observation(
        referenceRange=[{side: {"value": v, **quantity} for side, v in bounds.items()}]
    )


def _range(resource: dict[str, Any]) -> str | None:
    (observation,) = parse_observation(resource, "central-lab", "FHIR").observations
    return observation.reference_range


def _agree(code: str, named: str | None) -> bool:
    return named is not None and (named == code or frozenset({code, named}) in SAME_FACTOR)


@FAST
@given(code=st.sampled_from(CODES), display=st.sampled_from(sorted(WORDS)))
def test_a_bound_is_read_only_where_its_words_name_its_codes_unit(code: str, display: str) -> None:
    written = _range(_crp_range(code, display, high=5))
    assert written == (f"<5 {code}" if _agree(code, WORDS[display]) else None), (code, display)


@pytest.mark.parametrize(
    "display", ["milligrams per decilitre", "mg per dL", "mg/dL (milligrams per decilitre)"]
)
@pytest.mark.parametrize("high", [1, 0.8])
def test_the_result_is_stored_without_the_range_never_refused_for_it(
    display: str, high: float
) -> None:
    resource = _crp_range("mg/L", display, high=high) | {
        "valueQuantity": {"value": 8, "unit": "mg/L", "system": UCUM, "code": "mg/L"}
    }
    (observation,) = parse_observation(resource, "central-lab", "FHIR").observations
    result = normalise(observation)
    assert isinstance(result, NormalisedResult), result
    assert (result.value, result.reference_low, result.reference_high) == (8.0, None, None)


def test_bounds_one_in_words_naming_another_unit_drop_the_range() -> None:
    low = {"value": 0, "system": UCUM, "code": "mg/L", "unit": "mg/L"}
    high = {"value": 0.5, "system": UCUM, "code": "mg/L", "unit": "milligrams per decilitre"}
    assert _range(crp_observation(referenceRange=[{"low": low, "high": high}])) is None


@pytest.mark.parametrize("display", ["CRP", "UCUM", "C-reactive protein"])
def test_a_display_naming_no_unit_is_passed_over(display: str) -> None:
    assert _range(_crp_range("mg/L", display, low=0, high=5)) == "0-5 mg/L"
