"""Review 120: CRP in mg/dL labelled mg/L (``1988-5 | 3.2 | mg/L | <0.5 | H``: 32 mg/L
published as 3.2 mg/L, a response where there is none) or the other way round (``8 | mg/dL |
<5 | H`` published as 80 mg/L) was not told by its range: CRP's window of upper limits of
normal ran from 0.1 to 100 mg/L, and held both readings of a x10 slip. Each analyte's windows
now hold, of a range read in two of its units, one reading at most (apart from a single
point where two real laboratories' limits meet: hs-CRP <1 mg/L and <1.0 mg/dL)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.lab_ingestion.domain.analytes import accepted_units
from services.lab_ingestion.domain.model import NormalisedResult, Rejected, RejectionCode
from services.lab_ingestion.domain.normalise import normalise
from services.lab_ingestion.domain.plausibility import REFERENCE_LIMIT_WINDOWS
from shared.contracts.events.lab import Analyte
from tests.unit.lab_ingestion.test_normalise import observation
from tests.unit.lab_ingestion.test_unit_slips import _hl7, _refused

# real laboratories' CRP upper limits of normal, as written in their unit
CRP_ULNS = {
    "mg/L": ["<1", "<3", "<5", "<6", "<8", "<10", "0-5", "0.0-5.0"],
    "mg/dL": ["<0.1", "<0.3", "<0.5", "<0.8", "<1.0", "0-0.5", "0.0-0.5"],
    "nmol/L": ["<9.5", "<28.6", "<47.6", "<76", "<95"],
}
# where a mg/L and a mg/dL laboratory's limits are the same number (<1 mg/L, <1.0 mg/dL):
# nothing in the range tells the unit
MEETING = {"<1", "<1.0", "<0.1", "<9.5", "<10"}


@pytest.mark.parametrize(
    ("value", "obx6", "obx7", "obx8"),
    [
        ("3.2", "mg/L", "<0.5", "H"),  # 32 mg/L from a mg/dL laboratory, read as 3.2 mg/L
        ("8", "mg/dL", "<5", "H"),  # 8 mg/L from a mg/L laboratory, read as 80 mg/L
        ("3", "mg/dL", "<10", ""),  # 3 mg/L, a response, read as 30 mg/L
        ("1.5", "mg/L", "0-0.5", "H"),
        ("40", "mg/L", "<47.6", "N"),  # 40 nmol/L (4.2 mg/L) labelled mg/L
    ],
)
def test_the_crp_slips_of_the_review_are_refused(
    value: str, obx6: str, obx7: str, obx8: str
) -> None:
    result = _refused(_hl7("1988-5^CRP^LN", value, obx6, obx7, obx8))
    assert "no laboratory's, but is one in" in result.reason


@settings(max_examples=300, deadline=None)
@given(
    data=st.data(),
    true_unit=st.sampled_from(sorted(CRP_ULNS)),
    label=st.sampled_from(sorted(CRP_ULNS)),
    tenths=st.integers(1, 999),
)
def test_a_crp_range_in_another_unit_than_the_label_is_refused(
    data: st.DataObject, true_unit: str, label: str, tenths: int
) -> None:
    """A CRP value (0.1 to 99.9, a human value read in either unit) with its laboratory's
    range written without a unit: read as sent when labelled in the laboratory's unit,
    refused when labelled in another (unless the range is one both units' laboratories
    write)."""
    range_text = data.draw(st.sampled_from(CRP_ULNS[true_unit]))
    value = f"{tenths / 10:g}"
    result = normalise(observation(Analyte.CRP, value, (label,), reference_range=range_text))
    if label == true_unit:
        assert isinstance(result, NormalisedResult), result
        assert result.reference_high is not None
    elif range_text not in MEETING and {label, true_unit} != {"mg/L", "nmol/L"}:
        assert isinstance(result, Rejected), (value, label, range_text, result)
        assert result.code is RejectionCode.IMPLAUSIBLE_VALUE


@pytest.mark.parametrize("analyte", list(Analyte))
def test_no_window_holds_both_readings_of_a_unit_slip(analyte: Analyte) -> None:
    """Of a limit read in two of the analyte's units, at most one reading lies in each
    window, but for the rounding where real laboratories' limits meet (11% at most: hs-CRP
    <1 mg/L beside <1.0 mg/dL, and 1 mg/L written <9.5 or <10 nmol/L beside <10 mg/L). A
    window starting at 0 holds 0 in every unit: no slip there."""
    factors = sorted({m / d for m, d in accepted_units(analyte).values()})
    for window in REFERENCE_LIMIT_WINDOWS[analyte]:
        low, high = window
        if low == 0:
            continue
        for smaller, larger in itertools.combinations(factors, 2):
            slip = larger / smaller
            tolerance = 1.11 if analyte is Analyte.CRP else 1.0
            assert high <= low * slip * tolerance, (analyte, window, slip)
