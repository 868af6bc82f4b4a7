"""A reference range read in another unit than it was written in is no laboratory's range:
dropped (the protocol's LLN and ULN grade the result), never converted into one."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.domain.normalise import normalise
from services.lab_ingestion.domain.plausibility import (
    REFERENCE_LIMIT_WINDOWS,
    plausible_reference_range,
)
from shared.contracts.events.lab import Analyte
from tests.unit.lab_ingestion.test_normalise import accepted, observation

N, P, HB = Analyte.NEUTROPHILS, Analyte.PLATELETS, Analyte.HAEMOGLOBIN
ALT, BILI, CREA = Analyte.ALT, Analyte.BILIRUBIN, Analyte.CREATININE


@pytest.mark.parametrize(
    ("analyte", "value", "unit", "text", "expected"),
    [
        # a laboratory's range in the value's unit, converted as the value is
        (P, "250000", "/uL", "150000-400000", (150.0, 400.0)),
        (N, "3.2", "10*9/L", "1.5-7.5", (1.5, 7.5)),
        (N, "3200", "/uL", "1500-7500", (1.5, 7.5)),
        (HB, "135", "g/L", "120-160", (12.0, 16.0)),
        (HB, "8.4", "mmol/L", "7.4-9.9", (11.9214, 15.9489)),
        (ALT, "0.5", "ukat/L", "0-0.85", (0.0, 51.0)),
        (ALT, "30", "U/L", "<41", (None, 41.0)),
        (BILI, "10", "umol/L", "3-21", (0.175439, 1.22807)),
        (CREA, "80", "umol/L", "60-110", (0.678733, 1.24434)),
        (Analyte.CRP, "12", "mg/L", "<5", (None, 5.0)),
        (Analyte.CRP, "0.4", "mg/L", "0-1", (0.0, 1.0)),  # high-sensitivity CRP
        # the range written in another unit than the value's: dropped
        (P, "250000", "/uL", "150-400", (None, None)),  # x10^3/uL: LLN 0.15
        # (where the value could be in the range's unit too, the result is refused:
        # test_unit_slips; here it could not be, and only the range is dropped)
        (N, "3.2", "10*9/L", "1500-7500", (None, None)),  # per microlitre: 3.2 /uL no count
        (HB, "1.5", "g/dL", "120-160", (None, None)),  # g/L: 1.5 g/L no human value
        (ALT, "0.5", "ukat/L", "0-5000000", (None, None)),  # no laboratory's in any unit
        (CREA, "0.9", "mg/dL", "60-110", (None, None)),  # umol/L: 0.9 umol/L no human value
        (Analyte.CRP, "12", "mg/L", "0-5000", (None, None)),
        (N, "3.2", "10*9/L", "-2-7.5", (None, None)),  # a count below zero
    ],
)
def test_a_range_is_kept_only_where_a_laboratorys_lies(
    analyte: Analyte,
    value: str,
    unit: str,
    text: str,
    expected: tuple[float | None, float | None],
) -> None:
    result = accepted(normalise(observation(analyte, value, (unit,), reference_range=text)))
    assert _rounded(result.reference_low, result.reference_high) == _rounded(*expected)
    assert result.value > 0  # the result itself is kept either way


def _rounded(*bounds: float | None) -> list[float | None]:
    return [None if b is None else round(b, 4) for b in bounds]


@given(
    analyte=st.sampled_from(list(Analyte)),
    low=st.none() | st.floats(min_value=-1e6, max_value=1e6),
    high=st.none() | st.floats(min_value=-1e6, max_value=1e6),
)
def test_a_limit_outside_its_window_makes_the_range_implausible(
    analyte: Analyte, low: float | None, high: float | None
) -> None:
    (lln_min, lln_max), (uln_min, uln_max) = REFERENCE_LIMIT_WINDOWS[analyte]
    inside = (low is None or lln_min <= low <= lln_max) and (
        high is None or uln_min <= high <= uln_max
    )
    assert plausible_reference_range(analyte, low, high) is inside


@pytest.mark.parametrize("analyte", list(Analyte))
def test_each_window_holds_a_range_and_leaves_out_its_thousandfold(analyte: Analyte) -> None:
    (lln_min, lln_max), (uln_min, uln_max) = REFERENCE_LIMIT_WINDOWS[analyte]
    assert lln_min <= lln_max and uln_min <= uln_max
    assert plausible_reference_range(analyte, lln_max, uln_max)
    assert not plausible_reference_range(analyte, None, uln_max * 1000)
    assert not plausible_reference_range(analyte, None, uln_min / 1000)
