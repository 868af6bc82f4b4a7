"""A dot before three digits is a decimal point only where the thousands reading is no
human value (PROTOCOL section 6): ALT ``1.500`` U/L may be 1500 (grade 4) or 1.5 (normal)
and is refused; CRP ``1.500`` mg/L can only be 1.5 (1500 mg/L is above any CRP)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.domain.analytes import accepted_units, resolve_unit
from services.lab_ingestion.domain.model import NormalisedResult, Rejected, RejectionCode
from services.lab_ingestion.domain.normalise import normalise
from services.lab_ingestion.domain.plausibility import is_plausible
from shared.contracts.events.lab import Analyte
from tests.unit.lab_ingestion.test_normalise import accepted, observation, rejected

A = Analyte


@pytest.mark.parametrize(
    ("analyte", "value", "unit"),
    [
        (A.ALT, "1.500", "U/L"),
        (A.AST, "1.500", "IU/L"),
        (A.CREATININE, "1.200", "umol/L"),
        (A.BILIRUBIN, "1.200", "umol/L"),
        (A.CRP, "1.500", "nmol/L"),  # 1500 nmol/L is 157 mg/L: a CRP
        (A.PLATELETS, "1.200", "10*9/L"),
        (A.PLATELETS, "2.100", "10*3/uL"),
        (A.ALT, "+1.500", "U/L"),
    ],
)
def test_a_dot_that_may_be_a_thousands_separator_is_refused_as_the_comma_is(
    analyte: Analyte, value: str, unit: str
) -> None:
    result = rejected(
        normalise(observation(analyte, value, (unit,))), RejectionCode.NON_NUMERIC_VALUE
    )
    assert f"value {value!r} is ambiguous: the dot may be a thousands separator" in result.reason
    comma = value.replace(".", ",")  # the comma's refusal, as it was: same code, same words
    as_comma = rejected(
        normalise(observation(analyte, comma, (unit,))), RejectionCode.NON_NUMERIC_VALUE
    )
    assert "ambiguous" in as_comma.reason and "thousands separator" in as_comma.reason


@pytest.mark.parametrize(
    ("analyte", "value", "unit", "expected"),
    [
        (A.CRP, "1.500", "mg/L", 1.5),  # 1500 mg/L is above any CRP
        (A.CREATININE, "1.200", "mg/dL", 1.2),
        (A.NEUTROPHILS, "1.500", "10*9/L", 1.5),
        (A.HAEMOGLOBIN, "8.100", "mmol/L", 13.0491),
        (A.HAEMOGLOBIN, "9.500", "g/L", 0.95),  # 9500 g/L is 950 g/dL: above any haemoglobin
        (A.ALT, "0.583", "ukat/L", 34.98),  # a leading 0 starts no thousands group
        (A.CREATININE, "0.900", "mg/dL", 0.9),
        (A.ALT, "1.50", "U/L", 1.5),  # two decimals: no thousands group
        (A.ALT, "1500", "U/L", 1500.0),
        (A.ALT, "1500.000", "U/L", 1500.0),  # four digits before the dot: one decimal point
    ],
)
def test_a_dot_whose_thousands_reading_is_no_human_value_is_a_decimal_point(
    analyte: Analyte, value: str, unit: str, expected: float
) -> None:
    assert accepted(normalise(observation(analyte, value, (unit,)))).value == pytest.approx(
        expected, rel=1e-12
    )


_UNITS = [
    (analyte, unit)
    for analyte in Analyte
    for unit in accepted_units(analyte)
    if unit != "/uL"  # a count per microlitre has no decimals at all
]


@given(
    analyte_unit=st.sampled_from(_UNITS),
    whole=st.integers(1, 999),
    thousandths=st.integers(0, 999),
)
def test_a_thousands_dot_shape_is_refused_exactly_when_both_readings_may_be_human(
    analyte_unit: tuple[Analyte, str], whole: int, thousandths: int
) -> None:
    analyte, unit = analyte_unit
    value = f"{whole}.{thousandths:03d}"
    conversion = resolve_unit(analyte, (unit,))
    assert not isinstance(conversion, Rejected)
    result = normalise(observation(analyte, value, (unit,)))
    if is_plausible(analyte, conversion.apply(whole * 1000 + thousandths)):
        assert isinstance(result, Rejected) and "thousands separator" in result.reason
    elif is_plausible(analyte, conversion.apply(float(value))):
        assert isinstance(result, NormalisedResult)
        assert result.value == conversion.apply(float(value))
    else:
        assert isinstance(result, Rejected) and result.code is RejectionCode.IMPLAUSIBLE_VALUE


@pytest.mark.parametrize(
    ("analyte", "unit", "reference_range", "expected"),
    [
        (A.ALT, "U/L", "10.000-50.000", (None, None)),  # 10 000 U/L: an ALT too
        (A.ALT, "U/L", "10-50", (10.0, 50.0)),
        (A.CRP, "mg/L", "0.000-5.000", (0.0, 5.0)),  # 5000 mg/L is no CRP: 5
        (A.ALT, "U/L", "0.000-1.000 ukat/L", (None, None)),  # its own unit: 60 000 U/L too
        (A.ALT, "U/L", "0-0.850 ukat/L", (0.0, 51.0)),  # 850 ukat/L is no ALT
        (A.CREATININE, "mg/dL", "45.000-110.000 umol/L", (45 / 88.4, 110 / 88.4)),
        (A.HAEMOGLOBIN, "g/dL", "12-16", (12.0, 16.0)),
    ],
)
def test_a_range_bound_that_may_be_a_thousands_dot_drops_the_range(
    analyte: Analyte, unit: str, reference_range: str, expected: tuple[float, float]
) -> None:
    """As the value: LLN and ULN grade toxicity, so a bound that may be a thousand times off
    leaves no range (the protocol's defaults are used)."""
    result = accepted(
        normalise(observation(analyte, "20", (unit,), reference_range=reference_range))
    )
    assert (result.reference_low, result.reference_high) == pytest.approx(expected)
