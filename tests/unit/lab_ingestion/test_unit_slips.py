"""A wrong unit label told by the result's own range or flag is refused, never published.

Review 115: ``751-8 | 450 | 10*9/L | 1800-7700 | LL`` (an ANC of 450 /uL labelled 10^9/L)
was published as neutrophils 450 x10^9/L, its range (read in 10^9/L, no laboratory's)
dropped and its flag then compared with nothing; likewise platelets 4500 x10^9/L and
creatinine 45 mg/dL (45 umol/L) or 0.107 mg/dL (9.5 mg/dL labelled umol/L).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.domain.analytes import DEFAULT_UNIT_PARAMETERS, accepted_units
from services.lab_ingestion.domain.model import NormalisedResult, Rejected, RejectionCode
from services.lab_ingestion.domain.normalise import normalise
from services.lab_ingestion.domain.plausibility import (
    PLAUSIBILITY_CEILINGS,
    PLAUSIBILITY_FLOORS,
    REFERENCE_LIMIT_WINDOWS,
)
from services.lab_ingestion.domain.unit_slips import check_flag_fits_any_range
from shared.contracts.events.lab import Analyte, Comparator
from tests.unit.lab_ingestion.hl7_samples import one_result_oru, planned
from tests.unit.lab_ingestion.test_normalise import observation


def _hl7(obx3: str, value: str, obx6: str, obx7: str, obx8: str) -> object:
    message = one_result_oru(obx3, value, obx6, obx7)
    return planned(message.replace(f"|{obx7}||||F|", f"|{obx7}|{obx8}|||F|"))


def _refused(result: object) -> Rejected:
    assert isinstance(result, Rejected), result
    assert result.code is RejectionCode.IMPLAUSIBLE_VALUE
    assert result.reason.endswith("check the unit"), result.reason
    return result


def test_the_finding_an_anc_per_microlitre_with_its_range_is_refused() -> None:
    result = _refused(_hl7("751-8^ANC^LN", "450", "10*9/L", "1800-7700", "LL"))
    assert result.reason == (
        "neutrophils: the reference range 1800-7700 read in the value's unit 10*9/L is no "
        "laboratory's, but is one in /uL (1.8-7.7 10*9/L): the value 450 may be in /uL too "
        "(0.45 10*9/L, not 450 10*9/L); check the unit"
    )


@pytest.mark.parametrize(
    ("obx3", "value", "obx6", "obx7", "obx8"),
    [
        # the review's cases: a range in the true unit beside a wrong label
        ("751-8^ANC^LN", "450", "10*9/L", "1800-7700", "LL"),
        ("777-3^PLT^LN", "4500", "10*9/L", "150000-400000", "LL"),
        ("2160-0^CREA^LN", "45", "mg/dL", "62-106", "L"),
        ("2160-0^CREA^LN", "9.5", "umol/L", "0.7-1.2", "HH"),
        # without a flag: the range alone tells it
        ("751-8^ANC^LN", "450", "10*9/L", "1800-7700", ""),
        ("2160-0^CREA^LN", "45", "mg/dL", "62-106", ""),
        # the range's own unit the value's (FHIR writes it so): read as the value's
        ("751-8^ANC^LN", "450", "10*9/L", "1800-7700 10*9/L", "LL"),
        # each analyte's other units: x1000, x88.4, x17.1, x10, x60, x1.6
        ("26499-4^ANC^LN", "450", "10*3/uL", "1800-7700", "L"),
        ("777-3^PLT^LN", "4500", "/uL", "150-400", ""),  # 4.5 x10^9/L, or 4500?
        ("1975-2^BILI^LN", "10", "umol/L", "0.2-1.2", "H"),  # mg/dL: 10 mg/dL, or 0.58?
        ("1975-2^BILI^LN", "1.5", "mg/dL", "3-21", "N"),
        ("1988-5^CRP^LN", "12", "mg/L", "0-0.5", "H"),  # a range in mg/dL: 120 mg/L?
        ("718-7^HB^LN", "13.5", "g/dL", "120-160", "N"),  # 13.5 g/L is 1.35 g/dL
        ("718-7^HB^LN", "13.5", "g/dL", "7.4-9.9", "N"),  # mmol/L
        ("1742-6^ALT^LN", "30", "U/L", "0-0.85", "N"),  # ukat/L: 30 ukat/L is 1800 U/L
        ("1920-8^AST^LN", "0.5", "ukat/L", "0-40", "N"),  # U/L: 0.5 U/L, or 30 U/L?
    ],
)
def test_a_range_in_another_unit_the_value_may_be_in_is_refused(
    obx3: str, value: str, obx6: str, obx7: str, obx8: str
) -> None:
    result = _refused(_hl7(obx3, value, obx6, obx7, obx8))
    assert "no laboratory's, but is one in" in result.reason


@pytest.mark.parametrize(
    ("obx3", "value", "obx6", "obx7", "obx8", "limit"),
    [
        ("751-8^ANC^LN", "450", "10*9/L", "", "LL", "lower limit of normal (5 10*9/L)"),
        ("777-3^PLT^LN", "4500", "10*9/L", "", "LL", "lower limit of normal (300 10*9/L)"),
        ("2160-0^CREA^LN", "45", "mg/dL", "", "L", "lower limit of normal (1.5 mg/dL)"),
        ("2160-0^CREA^LN", "9.5", "umol/L", "", "HH", "upper limit of normal (0.4 mg/dL)"),
        # a range dropped (several sexes' ranges): the same
        ("2160-0^CREA^LN", "45", "mg/dL", "0.6-1.1 (F), 0.7-1.3 (M)", "L", "(1.5 mg/dL)"),
        ("1988-5^CRP^LN", "<0.5", "mg/L", "", "H", "upper limit of normal (0.95 mg/L)"),
        ("751-8^ANC^LN", "<100", "10*9/L", "", "L", "upper limit of normal (20 10*9/L)"),
        ("751-8^ANC^LN", ">8", "10*9/L", "", "L", "lower limit of normal (5 10*9/L)"),
    ],
)
def test_without_a_range_a_flag_no_laboratorys_range_allows_is_refused(
    obx3: str, value: str, obx6: str, obx7: str, obx8: str, limit: str
) -> None:
    result = _refused(_hl7(obx3, value, obx6, obx7, obx8))
    assert "contradicts the value" in result.reason and limit in result.reason


@pytest.mark.parametrize(
    ("obx3", "value", "obx6", "obx7", "obx8", "expected"),
    [
        # the same results in their true unit
        ("751-8^ANC^LN", "450", "/uL", "1800-7700", "LL", (0.45, 1.8, 7.7)),
        ("777-3^PLT^LN", "4.5", "10*9/L", "150-400", "LL", (4.5, 150, 400)),
        ("2160-0^CREA^LN", "45", "umol/L", "62-106", "L", (0.509, 0.701, 1.199)),
        ("2160-0^CREA^LN", "9.5", "mg/dL", "0.7-1.2", "HH", (9.5, 0.7, 1.2)),
        # the range in another unit, the value no human value in it: only the range dropped
        ("777-3^PLT^LN", "250000", "/uL", "150-400", "", (250, None, None)),
        ("751-8^ANC^LN", "4.2", "10*9/L", "1800-7700", "", (4.2, None, None)),  # 4.2 /uL?
        ("2160-0^CREA^LN", "0.9", "mg/dL", "60-110", "", (0.9, None, None)),  # 0.9 umol/L?
        # genuine extremes: a leukaemic count, a dialysis patient's creatinine
        ("751-8^ANC^LN", "380", "10*9/L", "1.8-7.7", "HH", (380, 1.8, 7.7)),
        ("751-8^ANC^LN", "380", "10*9/L", "", "HH", (380, None, None)),
        ("777-3^PLT^LN", "3200", "10*9/L", "", "H", (3200, None, None)),
        ("2160-0^CREA^LN", "1800", "umol/L", "62-106", "HH", (20.362, 0.701, 1.199)),
        ("2160-0^CREA^LN", "25", "mg/dL", "", "HH", (25, None, None)),
        # flags some laboratory's range allows, without a range
        ("751-8^ANC^LN", "1.2", "10*9/L", "", "L", (1.2, None, None)),
        ("2160-0^CREA^LN", "0.6", "mg/dL", "", "H", (0.6, None, None)),  # a ULN 0.5 exists?
        ("777-3^PLT^LN", "20", "10*9/L", "", "LL", (20, None, None)),
        ("1988-5^CRP^LN", "<2", "mg/L", "", "H", (2, None, None)),  # a hs-CRP ULN of 1
    ],
)
def test_a_consistent_result_is_read(
    obx3: str,
    value: str,
    obx6: str,
    obx7: str,
    obx8: str,
    expected: tuple[float, float | None, float | None],
) -> None:
    results = _hl7(obx3, value, obx6, obx7, obx8)
    assert isinstance(results, list), results
    [(_, result)] = results
    assert isinstance(result, NormalisedResult)
    got = (result.value, result.reference_low, result.reference_high)
    assert [None if g is None else round(g, 3) for g in got] == [
        None if e is None else round(e, 3) for e in expected
    ]


def test_a_flag_at_every_laboratorys_limit_is_no_contradiction() -> None:
    for analyte, ((_, highest_lln), (lowest_uln, _)) in REFERENCE_LIMIT_WINDOWS.items():
        assert check_flag_fits_any_range(analyte, ["L"], highest_lln, unit="u") is None
        assert check_flag_fits_any_range(analyte, ["H"], lowest_uln, unit="u") is None
        assert check_flag_fits_any_range(analyte, ["N", "A"], 1e9, unit="u") is None
        below = check_flag_fits_any_range(
            analyte, ["HH"], lowest_uln, unit="u", comparator=Comparator.BELOW
        )
        assert below is not None  # <ULN: never above it


# --- every analyte x unit of PROTOCOL section 6, with a laboratory's range: read --------


def _written(number: float, unit: str) -> str:
    """A number as a laboratory writes it: a count per microlitre whole, others with two
    or four decimals (never three: a thousands dot)."""
    if unit == "/uL":
        return str(max(1, round(number)))
    places = Decimal("0.01") if number >= 1 else Decimal("0.0001")
    return str(Decimal(repr(number)).quantize(places))


@st.composite
def consistent_results(draw: st.DrawFn) -> tuple[Analyte, str, str, str, str]:
    """(analyte, value, unit, range, flag): a laboratory's range (inside the windows with a
    margin), a human value, both in one unit of the analyte (the range with its own unit
    written, maybe another), and a flag the value and range allow."""
    analyte = draw(st.sampled_from(list(Analyte)))
    units = accepted_units(analyte, DEFAULT_UNIT_PARAMETERS)
    unit = draw(st.sampled_from(sorted(units)))
    (lln_min, lln_max), (uln_min, uln_max) = REFERENCE_LIMIT_WINDOWS[analyte]
    lln = draw(st.floats(lln_min + (lln_max - lln_min) * 0.1, lln_max * 0.9))
    uln = draw(st.floats(max(uln_min * 1.1, lln * 1.2), uln_max * 0.9))
    floor = max(PLAUSIBILITY_FLOORS.get(analyte, 0.0) * 1.2, 1.5 if unit == "/uL" else 0.01)
    value = draw(st.floats(floor, PLAUSIBILITY_CEILINGS[analyte] * 0.9))
    range_unit = draw(st.sampled_from(["", unit, *sorted(units)]))
    multiplier, divisor = units[unit]
    written_value = _written(value * divisor / multiplier, unit)
    m, d = units[range_unit or unit]
    shown = [_written(b * d / m, range_unit or unit) for b in (lln, uln)]
    text = draw(
        st.sampled_from(
            [f"{shown[0]}-{shown[1]}", f"<{shown[1]}"] + ([f">{shown[0]}"] if lln > 0 else [])
        )
    )
    flag = "N" if lln * 1.1 < value < uln * 0.9 else ""
    flag = "L" if value < lln * 0.9 and lln > 0 else "H" if value > uln * 1.1 else flag
    return analyte, written_value, unit, f"{text} {range_unit}".strip(), flag


@given(consistent_results())
def test_every_analyte_and_unit_with_a_laboratorys_range_is_read(
    result: tuple[Analyte, str, str, str, str],
) -> None:
    analyte, value, unit, text, flag = result
    read = normalise(
        observation(analyte, value, (unit,), reference_range=text, abnormal_flag=flag or None)
    )
    assert isinstance(read, NormalisedResult), (result, read)
    assert read.reference_low is not None or read.reference_high is not None, (result, read)


@given(consistent_results())
def test_every_analyte_and_unit_without_a_range_is_read(
    result: tuple[Analyte, str, str, str, str],
) -> None:
    analyte, value, unit, _, flag = result
    read = normalise(observation(analyte, value, (unit,), abnormal_flag=flag or None))
    assert isinstance(read, NormalisedResult), (result, read)
