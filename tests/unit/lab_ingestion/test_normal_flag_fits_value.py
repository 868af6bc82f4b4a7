"""Review 120: an N (normal) flag was never compared with its value. ``751-8 | 450 | 10*9/L |
1.8-7.7 | N`` (an ANC of 450 /uL, grade 4) was published as 450 x10^9/L flagged N; ``718-7 |
13.5 | g/L | | N`` as haemoglobin 1.35 g/dL; ``1742-6 | 45 | ukat/L | <50 U/L | N`` as ALT
2700 U/L. N alone says the value lies within its range: one below half its lower limit or
above twice its upper limit (more than a borderline N explains) is refused, "check the
unit"; without a range, every laboratory's limits are the range. Review 120 too: a value
written with decimals (``4.0``) is no count per microlitre."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.lab_ingestion.domain.abnormal_flags import NORMAL_MARGIN, far_from_normal
from services.lab_ingestion.domain.model import NormalisedResult, Rejected
from services.lab_ingestion.domain.normalise import normalise
from services.lab_ingestion.domain.plausibility import (
    PLAUSIBILITY_CEILINGS,
    PLAUSIBILITY_FLOORS,
    REFERENCE_LIMIT_WINDOWS,
)
from shared.contracts.events.lab import Analyte, Comparator
from tests.unit.lab_ingestion.test_normalise import observation
from tests.unit.lab_ingestion.test_unit_slips import _hl7, _refused

# a real range of each analyte, in its canonical unit, as (text, low, high)
RANGES = {
    Analyte.CRP: ("<5", None, 5.0),
    Analyte.NEUTROPHILS: ("1.8-7.7", 1.8, 7.7),
    Analyte.PLATELETS: ("150-400", 150.0, 400.0),
    Analyte.HAEMOGLOBIN: ("12-16", 12.0, 16.0),
    Analyte.ALT: ("<50", None, 50.0),
    Analyte.AST: ("10-40", 10.0, 40.0),
    Analyte.BILIRUBIN: ("0.3-1.2", 0.3, 1.2),
    Analyte.CREATININE: ("0.7-1.2", 0.7, 1.2),
}
CANONICAL = {
    Analyte.CRP: "mg/L", Analyte.NEUTROPHILS: "10*9/L", Analyte.PLATELETS: "10*9/L",
    Analyte.HAEMOGLOBIN: "g/dL", Analyte.ALT: "U/L", Analyte.AST: "U/L",
    Analyte.BILIRUBIN: "mg/dL", Analyte.CREATININE: "mg/dL",
}  # fmt: skip


@pytest.mark.parametrize(
    ("obx3", "value", "obx6", "obx7", "where"),
    [
        ("751-8^ANC^LN", "450", "10*9/L", "1.8-7.7", "far above the reference range"),
        ("718-7^HB^LN", "13.5", "g/L", "", "far below every laboratory's lower limit"),
        ("1742-6^ALT^LN", "45", "ukat/L", "<50 U/L", "far above the reference range"),
        ("1742-6^ALT^LN", "45", "ukat/L", "<0.85", "far above the reference range"),
        ("1742-6^ALT^LN", "45", "ukat/L", "", "far above every laboratory's upper limit"),
        ("751-8^ANC^LN", "450", "10*9/L", "", "far above every laboratory's upper limit"),
        ("2160-0^CREA^LN", "40", "mg/dL", "", "far above every laboratory's upper limit"),
        ("751-8^ANC^LN", "<0.1", "10*9/L", "1.8-7.7", "far below the reference range"),
    ],
)
def test_the_normal_flags_of_the_review_are_compared_and_refused(
    obx3: str, value: str, obx6: str, obx7: str, where: str
) -> None:
    result = _refused(_hl7(obx3, value, obx6, obx7, "N"))
    assert "'N' contradicts the value" in result.reason and where in result.reason


@pytest.mark.parametrize(
    ("obx3", "value", "obx6", "obx7", "obx8"),
    [
        ("751-8^ANC^LN", "0.45", "10*9/L", "1.8-7.7", "N~LL"),  # N beside a flag: that flag
        ("751-8^ANC^LN", "45", "10*9/L", "1.8-7.7", "A"),  # a leukaemic count, abnormal
        ("751-8^ANC^LN", "45", "10*9/L", "", "A"),
        ("751-8^ANC^LN", "45", "10*9/L", "1.8-7.7", "N~A"),
        ("751-8^ANC^LN", "1.7", "10*9/L", "1.8-7.7", "N"),  # a borderline N
        ("718-7^HB^LN", "11.8", "g/dL", "12-16", "N"),
        ("1988-5^CRP^LN", "5.4", "mg/L", "<5", "N"),
        ("1988-5^CRP^LN", "<0.3", "mg/L", "", "N"),
        ("1742-6^ALT^LN", "0.75", "ukat/L", "<0.85", "N"),
    ],
)
def test_a_normal_flag_some_range_allows_and_an_abnormal_one_are_read(
    obx3: str, value: str, obx6: str, obx7: str, obx8: str
) -> None:
    results = _hl7(obx3, value, obx6, obx7, obx8)
    assert isinstance(results, list), results


def _decimal(draw_hundredths: int) -> str:
    return f"{draw_hundredths / 100:.2f}"


@settings(max_examples=400, deadline=None)
@given(analyte=st.sampled_from(list(Analyte)), hundredths=st.integers(1, 10**7))
def test_n_with_a_range_is_refused_only_far_outside_it(analyte: Analyte, hundredths: int) -> None:
    text, low, high = RANGES[analyte]
    value = hundredths / 100
    floor = PLAUSIBILITY_FLOORS.get(analyte, 0.0)
    if not floor <= value <= PLAUSIBILITY_CEILINGS[analyte]:
        return  # refused as no human value, whatever its flag
    if value in ((low or 0) / NORMAL_MARGIN, high * NORMAL_MARGIN):
        return
    result = normalise(
        observation(analyte, _decimal(hundredths), (CANONICAL[analyte],),
                    reference_range=text, abnormal_flag="N")
    )  # fmt: skip
    far = (low is not None and value < low / NORMAL_MARGIN) or value > high * NORMAL_MARGIN
    if far:
        assert isinstance(result, Rejected) and "'N' contradicts" in result.reason, result
    else:
        assert isinstance(result, NormalisedResult), result
    # abnormal (A), and N beside a flag out of range, are never compared so
    for flags in ("A", "N~H" if low is None or value > low else "N~L"):
        given = observation(
            analyte, _decimal(hundredths), (CANONICAL[analyte],), reference_range=text
        )
        beside = normalise(dataclasses.replace(given, flags=tuple(flags.split("~"))))
        if isinstance(beside, Rejected):
            assert "'N'" not in beside.reason and "'A'" not in beside.reason, beside


@settings(max_examples=300, deadline=None)
@given(analyte=st.sampled_from(list(Analyte)), fraction=st.floats(0, 1))
def test_n_without_a_range_on_a_value_some_laboratory_calls_normal_is_read(
    analyte: Analyte, fraction: float
) -> None:
    (lowest_lln, _), (_, highest_uln) = REFERENCE_LIMIT_WINDOWS[analyte]
    value = round(lowest_lln + fraction * (highest_uln - lowest_lln), 2)
    if value < PLAUSIBILITY_FLOORS.get(analyte, 0.0):
        return
    result = normalise(
        observation(analyte, f"{value:.2f}", (CANONICAL[analyte],), abnormal_flag="N")
    )
    assert isinstance(result, NormalisedResult), result


def test_far_from_normal_reads_a_limit_as_all_its_true_values() -> None:
    assert far_from_normal(["N"], 0.5, 1.8, 7.7, Comparator.BELOW) == "far below"
    assert far_from_normal(["N"], 0.9, 1.8, 7.7, Comparator.BELOW) == "far below"  # <0.9
    assert far_from_normal(["N"], 1.0, 1.8, 7.7, Comparator.BELOW) is None
    assert far_from_normal(["N"], 0.5, 1.8, 7.7, Comparator.ABOVE) is None  # >0.5: any
    assert far_from_normal(["N"], 15.4, 1.8, 7.7, Comparator.ABOVE) == "far above"
    assert far_from_normal(["N"], 100, 1.8, 7.7, Comparator.BELOW) is None  # <100: any
    assert far_from_normal(["N", "H"], 100, 1.8, 7.7) is None
    assert far_from_normal(["H"], 100, 1.8, 7.7) is None


@pytest.mark.parametrize("value", ["4.0", "4.00", "4,0", "7.0", "2.0"])
def test_a_count_written_with_decimals_is_no_count_per_microlitre(value: str) -> None:
    """``4.0 | 10*9/L | 1800-7700`` was refused as maybe 4 /uL while ``4.2`` was read: the
    number's float was whole. As written it has decimals: read in 10^9/L, its range (no
    laboratory's in 10^9/L) dropped."""
    results = _hl7("751-8^ANC^LN", value, "10*9/L", "1800-7700", "")
    assert isinstance(results, list), results
    [(_, result)] = results
    assert isinstance(result, NormalisedResult)
    assert (result.value, result.reference_low, result.reference_high) == (
        float(value.replace(",", ".")),
        None,
        None,
    )


def test_a_whole_count_beside_a_range_per_microlitre_is_still_refused() -> None:
    assert "may be in /uL" in _refused(_hl7("751-8^ANC^LN", "4", "10*9/L", "1800-7700", "")).reason
